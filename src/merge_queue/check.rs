//! The `[merge] check` of an attempt: a check worktree put at the merge
//! commit, the check started there (`sh -c`, its own process group, the
//! integration slice's environment), its output to `merge/attempt-N.log`
//! and the board as it comes, and what its end means: the merge
//! published, or the slice's `attention` saying why not (dbt's failing
//! nodes, or the output's last lines). A check stopped on shutdown leaves
//! its attempt interrupted.
//!
//! Checks run in lanes ([`Lane`]): lane 0 is the integration worktree;
//! with `[merge] parallel`, each further lane has a worktree and a dbt
//! database of its own, so checks running at once never share a file.
//!
//! Owns the check's process and its output thread; the merge itself, the
//! CAS and the attempt file belong to `attempt`.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;

use crate::domain::board::BoardUpdate;
use crate::domain::environment::{INTEGRATION_SLICE, integration_env};
use crate::domain::queue::{AttemptView, CHECK_LINES_KEPT};
use crate::domain::{Event, SliceName};
use crate::git::Oid;
use crate::os::process_group;
use crate::store::{Actor, Attention};
use crate::workspace::Workspace;

use super::attempt::{AttemptFile, reset_check_worktree};
use super::{Ended, MergeQueue, Msg};

/// How long a check is given between SIGTERM and SIGKILL.
pub(super) const CHECK_GRACE: Duration = Duration::from_secs(5);

/// Where a check runs: lane 0 is the integration worktree and the
/// integration's dbt database; lane n (from 1) a worktree beside it,
/// `sliceboard-integration+N` (N = n + 1), with a dbt database and a dbt
/// target of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lane(pub usize);

impl Lane {
    pub(super) const FIRST: Lane = Lane(0);

    /// The check worktree.
    pub(super) fn worktree(self, ws: &Workspace) -> PathBuf {
        let first = ws.state_dir.integration_worktree();
        if self.0 == 0 {
            return first;
        }
        let mut name = first.file_name().unwrap_or_default().to_os_string();
        name.push(format!("+{}", self.0 + 1));
        first.with_file_name(name)
    }

    /// Whose dbt database the check builds into (`+` never appears in a
    /// slice's name, so no slice shares it).
    pub(super) fn dbt_owner(self) -> String {
        if self.0 == 0 {
            INTEGRATION_SLICE.to_owned()
        } else {
            format!("{INTEGRATION_SLICE}+{}", self.0 + 1)
        }
    }

    /// The dbt project inside the lane's worktree.
    pub(super) fn project(self, ws: &Workspace) -> PathBuf {
        crate::domain::plan::normalize(&self.worktree(ws).join(&ws.plan.dbt.project_dir))
    }

    /// The check's environment: the integration slice's, in this lane's
    /// worktree, with its own dbt target past the first lane (a profile
    /// that names its database after the target never shares one).
    pub(super) fn env(self, ws: &Workspace, merging: &SliceName) -> Vec<(String, String)> {
        let worktree = self.worktree(ws);
        let mut env = integration_env(&ws.plan, ws.git.root(), &worktree, merging);
        if self.0 > 0 {
            for (key, value) in &mut env {
                if key == "SLICEBOARD_DBT_TARGET" {
                    value.push_str(&format!("_lane{}", self.0 + 1));
                }
            }
        }
        env.extend(ws.defer_env(&self.dbt_owner()));
        env
    }

    /// "check worktree 2", for people; empty for the first.
    pub(super) fn words(self) -> String {
        if self.0 == 0 {
            String::new()
        } else {
            format!("check worktree {}", self.0 + 1)
        }
    }
}

/// An attempt whose check is running (or ran: a speculative check that
/// passed keeps its lane until it lands).
pub struct Running {
    pub number: u64,
    pub slice: SliceName,
    pub started: Timestamp,
    file: AttemptFile,
    merge_commit: Oid,
    pid: i32,
    log: PathBuf,
    lane: Lane,
    /// The output's last lines.
    tail: VecDeque<String>,
}

impl Running {
    pub(super) fn file(&self) -> &AttemptFile {
        &self.file
    }

    pub(super) fn merge_commit(&self) -> Oid {
        self.merge_commit
    }

    pub(super) fn log(&self) -> &std::path::Path {
        &self.log
    }

    pub(super) fn tail(&self) -> &VecDeque<String> {
        &self.tail
    }

    pub(super) fn lane(&self) -> Lane {
        self.lane
    }

    pub(super) fn view(&self) -> AttemptView {
        AttemptView {
            slice: self.slice.clone(),
            number: self.number,
            started: self.started,
        }
    }

    /// Stops the check's process group (SIGTERM, then SIGKILL after
    /// [`CHECK_GRACE`]).
    pub(super) fn stop(&self) {
        let _ = process_group::terminate_group(self.pid, CHECK_GRACE);
    }

    /// The slices being checked: a batch's, or the one.
    pub(super) fn slices(&self) -> Vec<SliceName> {
        if self.file.batch.is_empty() {
            vec![self.slice.clone()]
        } else {
            self.file.batch.iter().map(|m| m.slice.clone()).collect()
        }
    }
}

impl MergeQueue {
    /// Puts the lane's worktree at the merge commit and starts the check
    /// there; the caller records the attempt (with the check's pid).
    pub(super) fn start_check(
        &mut self,
        file: &AttemptFile,
        commit: Oid,
        check: &str,
        lane: Lane,
    ) -> Result<Running, String> {
        let worktree = lane.worktree(&self.ws);
        reset_check_worktree(&self.ws, &worktree, Some(commit))?;
        let log = self.ws.state_dir.check_log(file.number);
        let mut log_file =
            crate::os::private::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let _ = writeln!(
            log_file,
            "# attempt {}: {} ({}) onto {}, merge commit {commit}\n$ {check}",
            file.number, file.slice, file.approved, file.onto
        );
        let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
        let env = lane.env(&self.ws, &file.slice);
        // The check builds onto the last published build, never onto what
        // a failed check left.
        if let Err(err) = self.ws.seed_dbt_db(&lane.dbt_owner(), true) {
            return Err(format!(
                "cannot copy the published dbt database for the check: {err}"
            ));
        }
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(crate::domain::plan::check_script(
                &self.ws.plan.setup,
                check,
            ))
            .current_dir(&worktree)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(|e| e.to_string())?)
            .stderr(writer)
            .process_group(0);
        let (mut child, registered) =
            process_group::spawn(&mut command).map_err(|e| e.to_string())?;
        drop(command);
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let mut file = file.clone();
        file.check_pid = Some(pid);
        file.check_started = process_group::start_time(pid);
        let inbox = self.inbox_tx.clone();
        let attempt = file.number;
        std::thread::Builder::new()
            .name("merge-check".into())
            .spawn(move || {
                let mut lines = BufReader::new(reader);
                let mut batch = Vec::new();
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match lines.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let _ = log_file.write_all(&line);
                    let text = crate::dbt::human_line(String::from_utf8_lossy(&line).trim_end());
                    batch.push(text);
                    if batch.len() >= 64 || lines.buffer().is_empty() {
                        let _ = inbox.send(Msg::CheckOutput {
                            attempt,
                            lines: std::mem::take(&mut batch),
                        });
                    }
                }
                if !batch.is_empty() {
                    let _ = inbox.send(Msg::CheckOutput {
                        attempt,
                        lines: batch,
                    });
                }
                let code = child.wait().ok().and_then(|s| s.code());
                drop(registered);
                let _ = inbox.send(Msg::CheckExited { attempt, code });
            })
            .map_err(|e| e.to_string())?;
        Ok(Running {
            number: file.number,
            slice: file.slice.clone(),
            started: file.started,
            merge_commit: commit,
            file,
            pid,
            log,
            lane,
            tail: VecDeque::new(),
        })
    }

    /// Starts the check of a lone attempt (one slice or a batch) in the
    /// first lane, recorded in `merge/attempt.json` with its pid.
    pub(super) fn start_recorded_check(
        &mut self,
        file: &AttemptFile,
        commit: Oid,
        check: &str,
    ) -> Result<Running, String> {
        let running = self.start_check(file, commit, check, Lane::FIRST)?;
        if let Err(err) = self.save_attempt(running.file()) {
            running.stop();
            return Err(err);
        }
        Ok(running)
    }

    /// Shows a check's output on the board: what it printed so far, then
    /// what comes.
    pub(super) fn show_output(&mut self, view: AttemptView, so_far: &VecDeque<String>) {
        if self
            .output_of
            .as_ref()
            .is_some_and(|o| o.number == view.number)
        {
            return;
        }
        self.check_output = so_far.clone();
        (self.deps.publish)(BoardUpdate::CheckOutput {
            attempt: view.number,
            lines: so_far.iter().cloned().collect(),
            fresh: true,
        });
        self.output_of = Some(view);
    }

    /// Shows the running check's output on the board.
    pub(super) fn show_running_output(&mut self) {
        if let Some((view, tail)) = self.running.as_ref().map(|r| (r.view(), r.tail.clone())) {
            self.show_output(view, &tail);
        }
    }

    pub(super) fn check_output(&mut self, attempt: u64, lines: Vec<String>) {
        let running = match self.running.as_mut() {
            Some(running) if running.number == attempt => Some(running),
            _ if self.speculation.is_some() => self.speculating_mut(attempt),
            _ => self.batch.as_mut().and_then(|b| b.probe_mut(attempt)),
        };
        // A check stopped on purpose may still say its last words.
        let Some(running) = running else { return };
        running.tail.extend(lines.iter().cloned());
        while running.tail.len() > CHECK_LINES_KEPT {
            running.tail.pop_front();
        }
        if self.output_of.as_ref().is_none_or(|o| o.number != attempt) {
            return;
        }
        self.check_output.extend(lines.iter().cloned());
        while self.check_output.len() > CHECK_LINES_KEPT {
            self.check_output.pop_front();
        }
        (self.deps.publish)(BoardUpdate::CheckOutput {
            attempt,
            lines,
            fresh: false,
        });
    }

    /// The check ended: publish the merge, or record why not.
    pub(super) fn check_exited(&mut self, attempt: u64, code: Option<i32>) -> Option<Ended> {
        let Some(running) = self.running.take_if(|r| r.number == attempt) else {
            if self.speculation.is_some() {
                return self.speculative_check_exited(attempt, code);
            }
            return self.probe_exited(attempt, code);
        };
        if !running.file.batch.is_empty() {
            return self.batch_check_exited(running, code);
        }
        let file = running.file.clone();
        let (reason, details) = match self.verdict(&running, code) {
            Ok(()) => {
                self.publish_dbt_state(running.lane);
                return Some(self.publish_merge(&file, running.merge_commit));
            }
            Err(failure) => failure,
        };
        let slice = running.slice.clone();
        let log = running.log.clone();
        self.attention(
            &slice,
            Attention {
                approved: file.approved.clone(),
                attempt,
                reason: reason.clone(),
                paths: Vec::new(),
                details,
                log: Some(log),
                at: Timestamp::now(),
            },
            Some(Event::CheckFailed {
                slice: slice.clone(),
                attempt,
                merge_commit: running.merge_commit.to_string(),
                reason: reason.clone(),
            }),
        );
        self.remove_attempt();
        self.after_failed_attempt(&slice, &reason);
        Some(Ended::Failed { slice, reason })
    }

    /// Whether a check that ended with `code` lets its merge land: it
    /// passed (journaled so) and the data allows it (`[merge] data_diff`);
    /// else why not, and what failed.
    pub(super) fn verdict(
        &mut self,
        running: &Running,
        code: Option<i32>,
    ) -> Result<(), (String, Vec<String>)> {
        if code != Some(0) {
            return Err(self.check_failure(code, running));
        }
        self.judge_data(running)?;
        self.record(
            Actor::Sliceboard,
            Event::CheckPassed {
                slice: running.slice.clone(),
                attempt: running.number,
                merge_commit: running.merge_commit.to_string(),
            },
        );
        Ok(())
    }

    /// With `[dbt] defer`: the checked integration build becomes what the
    /// slices defer to (its manifest and a snapshot of its DuckDB files).
    pub(super) fn publish_dbt_state(&mut self, lane: Lane) {
        if !self.ws.plan.dbt.defer {
            return;
        }
        let project = lane.project(&self.ws);
        let database = self.ws.state_dir.dbt_db(&lane.dbt_owner());
        let message = match crate::dbt::defer::publish(
            &project,
            Some(&database),
            &self.ws.state_dir.dbt_state_dir(),
        ) {
            Ok(files) => format!(
                "slices now defer to this integration build ({} files in {})",
                files.len(),
                self.ws.state_dir.dbt_state_dir().display()
            ),
            Err(err) => format!("the integration build's dbt state was not published: {err}"),
        };
        self.record(
            Actor::Sliceboard,
            Event::Progress {
                slice: None,
                message,
            },
        );
    }

    /// Why a check that ended with `code` failed, in one line, and what
    /// failed in it.
    pub(super) fn check_failure(
        &self,
        code: Option<i32>,
        running: &Running,
    ) -> (String, Vec<String>) {
        let how = code.map_or_else(|| "was killed".to_owned(), |c| format!("exited with {c}"));
        let details = check_details(&running.lane.project(&self.ws), &running.tail);
        let mut reason = format!("the check {how}");
        if let Some(first) = details.first() {
            reason.push_str(&format!(": {first}"));
            if details.len() > 1 {
                reason.push_str(&format!(" (and {} more)", details.len() - 1));
            }
        }
        (reason, details)
    }

    /// Stops a running check (shutting down): the attempt is interrupted.
    pub(super) fn interrupt(&mut self) {
        self.interrupt_speculation();
        self.interrupt_probes();
        let Some(running) = self.running.take() else {
            return;
        };
        running.stop();
        for slice in running.slices() {
            self.record(
                Actor::Sliceboard,
                Event::MergeInterrupted {
                    slice,
                    attempt: running.number,
                },
            );
        }
        self.batch = None;
        self.remove_attempt();
    }
}

/// What failed in a check: dbt's failing nodes with their messages when
/// the check ran dbt in `project`, else the output's last lines.
fn check_details(project: &Path, tail: &VecDeque<String>) -> Vec<String> {
    let failing: Vec<String> = crate::dbt::last_run(project)
        .map(|run| {
            run.problems()
                .map(|node| {
                    let message = node
                        .message
                        .as_deref()
                        .map(|m| {
                            m.lines()
                                .map(str::trim)
                                .filter(|l| !l.is_empty())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    format!("{} {}: {message}", node.kind.as_str(), node.name)
                })
                .collect()
        })
        .unwrap_or_default();
    if !failing.is_empty() {
        return failing;
    }
    // What the failing command said: the lines after the script's echo of
    // it (`$ command`), not the echo.
    let said: Vec<&String> = match tail.iter().rposition(|l| l.starts_with("$ ")) {
        Some(echo) if echo + 1 < tail.len() => tail.iter().skip(echo + 1).collect(),
        _ => tail.iter().collect(),
    };
    let kept = said.len().saturating_sub(10);
    said.into_iter().skip(kept).cloned().collect()
}
