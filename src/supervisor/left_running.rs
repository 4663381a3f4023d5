//! Agent groups an earlier supervisor left running. While an agent runs,
//! `slices/<name>/agent.json` holds its pid (its process group) and start
//! time; a supervisor that starts after one died finds each recorded group
//! still alive (an agent that ignored the hangup of its closed terminal),
//! marks the slice as "left running by a previous supervisor" on the board
//! and in the journal, and starts no agent there until the group ends.
//! The operator ends it (`KillAgent`: SIGTERM with SIGCONT, SIGKILL after
//! the grace period, only while the recorded start time still matches), or
//! it ends by itself, which the supervisor's step notices within a second.
//!
//! Signals nobody but a recorded group; never ends one on its own.

use std::time::{Duration, Instant};

use super::{Inbox, Supervisor, SupervisorError, refused};
use crate::domain::protocol::LeftRunningEnd;
use crate::domain::{AgentStatus, Event, SliceName};
use crate::session::{Termination, process_group};
use crate::store::Actor;

/// How often a group left running is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// `slices/<name>/agent.json`: the pid and start time of a running agent.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) struct AgentRecord {
    pub pid: i32,
    pub started: u64,
}

/// A group left running in a slice, and whether the operator is ending it.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeftGroup {
    pub record: AgentRecord,
    /// A stop is under way on a thread of its own.
    pub ending: bool,
}

impl Supervisor {
    /// Writes down the running agent, so the next supervisor can find it
    /// should this one die without stopping it.
    pub(super) fn remember_agent(&self, slice: &SliceName, pid: i32) {
        let Some(started) = process_group::start_time(pid) else {
            return;
        };
        let record = AgentRecord { pid, started };
        let result = serde_json::to_vec(&record)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(self.ws.state_dir.agent_file(slice), bytes));
        if let Err(err) = result {
            tracing::warn!(%slice, %err, "cannot record the agent's pid");
        }
    }

    /// On start: every slice whose recorded agent group still lives is
    /// marked, journaled and told; a record whose group is gone is
    /// dropped. Returns the slices marked.
    pub(super) fn find_left_running(&mut self, names: &[SliceName]) -> Vec<SliceName> {
        let mut found = Vec::new();
        for slice in names {
            let path = self.ws.state_dir.agent_file(slice);
            let Some(record) = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<AgentRecord>(&bytes).ok())
            else {
                let _ = std::fs::remove_file(&path);
                continue;
            };
            if !process_group::group_alive(record.pid, record.started) {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            tracing::warn!(%slice, pid = record.pid, "an agent group the previous supervisor left is still running");
            if let Some(slot) = self.slots.get_mut(slice) {
                slot.left_running = Some(LeftGroup {
                    record,
                    ending: false,
                });
            }
            self.record(
                Actor::Sliceboard,
                Event::LeftRunningFound {
                    slice: slice.clone(),
                    pid: record.pid,
                },
            );
            found.push(slice.clone());
        }
        found
    }

    /// Refuses to start an agent beside a group left running.
    pub(super) fn check_left_running(&self, slice: &SliceName) -> Result<(), SupervisorError> {
        match self.left_running(slice) {
            Some(left) => Err(refused(
                slice,
                format!(
                    "agent group {}, left running by a previous supervisor, still runs in its worktree; end it first with `sliceboard kill {slice}`",
                    left.record.pid
                ),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn left_running(&self, slice: &SliceName) -> Option<LeftGroup> {
        self.slots.get(slice).and_then(|slot| slot.left_running)
    }

    /// Ends the group left running in `slice`, on a thread of its own;
    /// its end comes back through the inbox. What was done, for the reply.
    pub(super) fn end_left_running(
        &mut self,
        slice: &SliceName,
    ) -> Result<String, SupervisorError> {
        let grace = self.options.kill_grace;
        let Some(left) = self
            .slots
            .get_mut(slice)
            .and_then(|slot| slot.left_running.as_mut())
        else {
            return Err(refused(slice, "its agent is not running"));
        };
        let pid = left.record.pid;
        if left.ending {
            return Ok(format!("agent group {pid} is being ended already"));
        }
        left.ending = true;
        let record = left.record;
        let inbox = self.inbox_tx.clone();
        let name = slice.clone();
        let spawned = std::thread::Builder::new()
            .name("left-running".into())
            .spawn(move || {
                // The start time still matching means the pid is still the
                // group's, not a stranger's that reused it.
                let termination = process_group::group_alive(record.pid, record.started)
                    .then(|| process_group::terminate_group(record.pid, grace));
                let _ = inbox.send(Inbox::LeftRunningStopped {
                    slice: name,
                    pid: record.pid,
                    termination,
                });
            });
        if let Err(err) = spawned {
            if let Some(left) = self
                .slots
                .get_mut(slice)
                .and_then(|s| s.left_running.as_mut())
            {
                left.ending = false;
            }
            return Err(refused(
                slice,
                format!("cannot start ending group {pid}: {err}"),
            ));
        }
        Ok(format!(
            "{slice}: ending agent group {pid}, left running by a previous supervisor (SIGTERM, then SIGKILL after {} s)",
            grace.as_secs_f32()
        ))
    }

    /// A stop begun by [`Supervisor::end_left_running`] is over: `None`
    /// when the group was gone before it was signalled.
    pub(super) fn left_running_stopped(
        &mut self,
        slice: &SliceName,
        pid: i32,
        termination: Option<Termination>,
    ) {
        let how = match termination {
            None => LeftRunningEnd::ByItself,
            Some(Termination::Graceful) => LeftRunningEnd::Terminated,
            Some(Termination::Forced) => LeftRunningEnd::Killed,
            Some(Termination::Stuck) => {
                if let Some(left) = self
                    .slots
                    .get_mut(slice)
                    .and_then(|s| s.left_running.as_mut())
                {
                    left.ending = false;
                }
                (self.notify)(Event::Progress {
                    slice: Some(slice.clone()),
                    message: format!(
                        "agent group {pid} survived SIGKILL (a process stuck in the kernel, see `ps -g {pid}`); it still blocks new agents here"
                    ),
                });
                return;
            }
        };
        let status = match how {
            LeftRunningEnd::ByItself => AgentStatus::Exited { code: None },
            LeftRunningEnd::Terminated | LeftRunningEnd::Killed => AgentStatus::Killed,
        };
        self.left_running_ended(slice, pid, how, status);
    }

    /// Looks at the groups left running, at most once a second: one that
    /// ended by itself loses its mark. Costs one `/proc` read per group.
    pub(super) fn poll_left_running(&mut self, now: Instant) {
        if now.duration_since(self.left_checked) < CHECK_EVERY {
            return;
        }
        self.left_checked = now;
        let gone: Vec<(SliceName, i32)> = self
            .slots
            .iter()
            .filter_map(|(slice, slot)| {
                let left = slot.left_running.filter(|left| !left.ending)?;
                (!process_group::group_alive(left.record.pid, left.record.started))
                    .then(|| (slice.clone(), left.record.pid))
            })
            .collect();
        for (slice, pid) in gone {
            self.left_running_ended(
                &slice,
                pid,
                LeftRunningEnd::ByItself,
                AgentStatus::Exited { code: None },
            );
        }
    }

    /// The mark goes, the record with it; the end is journaled, and the
    /// run's last status with it (the journal still said running).
    fn left_running_ended(
        &mut self,
        slice: &SliceName,
        pid: i32,
        how: LeftRunningEnd,
        status: AgentStatus,
    ) {
        let Some(slot) = self.slots.get_mut(slice) else {
            return;
        };
        if slot.left_running.is_none_or(|left| left.record.pid != pid) {
            return;
        }
        slot.left_running = None;
        // Shown as ended already, but not journaled as such: record it now.
        slot.status = None;
        let _ = std::fs::remove_file(self.ws.state_dir.agent_file(slice));
        let actor = match how {
            LeftRunningEnd::ByItself => Actor::Sliceboard,
            LeftRunningEnd::Terminated | LeftRunningEnd::Killed => Actor::Operator,
        };
        self.record(
            actor,
            Event::LeftRunningEnded {
                slice: slice.clone(),
                pid,
                how,
            },
        );
        self.set_status(slice, status, actor);
    }

    /// Journals `event` and tells whoever watches.
    pub(super) fn record(&self, actor: Actor, event: Event) {
        if let Err(err) = self.ws.state_dir.journal().record(actor, event.clone()) {
            tracing::warn!(%err, "journal write failed");
        }
        (self.notify)(event);
    }
}
