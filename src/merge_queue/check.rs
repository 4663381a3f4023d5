//! The `[merge] check` of an attempt: the integration worktree put at the
//! merge commit, the check started there (`sh -c`, its own process group,
//! the integration slice's environment), its output to
//! `merge/attempt-N.log` and the board as it comes, and what its end
//! means: the merge published, or the slice's `attention` saying why not
//! (dbt's failing nodes, or the output's last lines). A check stopped on
//! shutdown leaves its attempt interrupted.
//!
//! Owns the check's process and its output thread; the merge itself, the
//! CAS and the attempt file belong to `attempt`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;

use crate::domain::board::BoardUpdate;
use crate::domain::environment::{INTEGRATION_SLICE, integration_env};
use crate::domain::queue::CHECK_LINES_KEPT;
use crate::domain::{Event, SliceName};
use crate::git::Oid;
use crate::os::process_group;
use crate::store::{Actor, Attention};

use super::attempt::AttemptFile;
use super::{Ended, MergeQueue, Msg};

/// How long a check is given between SIGTERM and SIGKILL.
pub(super) const CHECK_GRACE: Duration = Duration::from_secs(5);

/// An attempt whose check is running.
pub struct Running {
    pub number: u64,
    pub slice: SliceName,
    pub started: Timestamp,
    file: AttemptFile,
    merge_commit: Oid,
    pid: i32,
    log: PathBuf,
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
    /// Puts the integration worktree at the merge commit and starts the
    /// check there.
    pub(super) fn start_check(
        &mut self,
        file: &AttemptFile,
        commit: Oid,
        check: &str,
    ) -> Result<Running, String> {
        let worktree = self.ws.state_dir.integration_worktree();
        self.reset_integration_worktree(Some(commit))?;
        let log = self.ws.state_dir.check_log(file.number);
        let mut log_file =
            crate::os::private::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let _ = writeln!(
            log_file,
            "# attempt {}: {} ({}) onto {}, merge commit {commit}\n$ {check}",
            file.number, file.slice, file.approved, file.onto
        );
        let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
        let mut env = integration_env(&self.ws.plan, self.ws.git.root(), &worktree, &file.slice);
        env.extend(self.ws.defer_env(INTEGRATION_SLICE));
        // The check builds onto the last published build, never onto what
        // a failed check left.
        if let Err(err) = self.ws.seed_dbt_db(INTEGRATION_SLICE, true) {
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
        self.save_attempt(&file)?;

        self.check_output.clear();
        self.output_of = Some(crate::domain::queue::AttemptView {
            slice: file.slice.clone(),
            number: file.number,
            started: jiff::Timestamp::now(),
        });
        (self.deps.publish)(BoardUpdate::CheckOutput {
            attempt: file.number,
            lines: Vec::new(),
            fresh: true,
        });
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
        })
    }

    pub(super) fn check_output(&mut self, attempt: u64, lines: Vec<String>) {
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
        let running = self.running.take_if(|r| r.number == attempt)?;
        if !running.file.batch.is_empty() {
            return self.batch_check_exited(running, code);
        }
        let file = running.file.clone();
        if code == Some(0) {
            self.record(
                Actor::Sliceboard,
                Event::CheckPassed {
                    slice: running.slice.clone(),
                    attempt,
                    merge_commit: running.merge_commit.to_string(),
                },
            );
            self.publish_dbt_state();
            return Some(self.publish_merge(&file, running.merge_commit));
        }
        let (reason, details) = self.check_failure(code);
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

    /// With `[dbt] defer`: the checked integration build becomes what the
    /// slices defer to (its manifest and a snapshot of its DuckDB files).
    pub(super) fn publish_dbt_state(&mut self) {
        if !self.ws.plan.dbt.defer {
            return;
        }
        let project = self.integration_project();
        let database = self.ws.state_dir.dbt_db(INTEGRATION_SLICE);
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

    /// The dbt project inside the integration worktree.
    fn integration_project(&self) -> PathBuf {
        crate::domain::plan::normalize(
            &self
                .ws
                .state_dir
                .integration_worktree()
                .join(&self.ws.plan.dbt.project_dir),
        )
    }

    /// Why a check that ended with `code` failed, in one line, and what
    /// failed in it.
    pub(super) fn check_failure(&self, code: Option<i32>) -> (String, Vec<String>) {
        let how = code.map_or_else(|| "was killed".to_owned(), |c| format!("exited with {c}"));
        let details = self.check_details();
        let mut reason = format!("the check {how}");
        if let Some(first) = details.first() {
            reason.push_str(&format!(": {first}"));
            if details.len() > 1 {
                reason.push_str(&format!(" (and {} more)", details.len() - 1));
            }
        }
        (reason, details)
    }

    /// What failed in the check: dbt's failing nodes with their messages
    /// when the check ran dbt, else the output's last lines.
    fn check_details(&self) -> Vec<String> {
        let project = self.integration_project();
        let failing: Vec<String> = crate::dbt::last_run(&project)
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
        let kept = self.check_output.len().saturating_sub(10);
        self.check_output.iter().skip(kept).cloned().collect()
    }

    /// Stops a running check (shutting down): the attempt is interrupted.
    pub(super) fn interrupt(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let _ = process_group::terminate_group(running.pid, CHECK_GRACE);
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
