//! Agent trees an earlier supervisor left running. While an agent runs,
//! `slices/<name>/agent.json` holds its pid (its session and process
//! group), start time and mark (`SLICEBOARD_SLICE` and `SLICEBOARD_SOCKET`
//! in its environment); a supervisor that starts after one died finds
//! each agent's tree still alive (an agent that ignored the hangup of its
//! closed terminal, or a job that left its group or session), also with
//! no record, by the mark alone; marks the slice as "left running by a
//! previous supervisor" on the board and in the journal, and starts no
//! agent there until the tree is empty. The operator ends it (`KillAgent`:
//! SIGTERM with SIGCONT, SIGKILL after the grace period, to every group
//! of the tree; the leader's session only while its recorded start time
//! still matches), or it ends by itself, which the supervisor's step
//! notices within a second.
//!
//! Signals nobody but a recorded or marked tree; never ends one on its own.

use std::time::{Duration, Instant};

use super::{Agents, AgentsError, Inbox, refused};
use crate::domain::command::LeftRunningEnd;
use crate::domain::{AgentStatus, Event, SliceName};
use crate::os::process_group::{self, Mark, Tree};
use crate::session::Termination;
use crate::store::Actor;

/// How often a group left running is looked at.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// `slices/<name>/agent.json`: the pid and start time of a running agent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct AgentRecord {
    pub pid: i32,
    pub started: u64,
    /// Written since agents' trees are followed; older records have none.
    #[serde(default)]
    pub mark: Option<Mark>,
}

/// A tree left running in a slice, and whether the operator is ending it.
#[derive(Debug, Clone)]
pub(super) struct LeftGroup {
    /// The pid named on the board and in the journal: the agent's, or the
    /// first marked process when no record was left.
    pub pid: i32,
    pub tree: Tree,
    /// A stop is under way on a thread of its own.
    pub ending: bool,
}

impl Agents {
    /// Writes down the running agent, so the next supervisor can find it
    /// should this one die without stopping it.
    pub(super) fn remember_agent(&self, slice: &SliceName, pid: i32, mark: Option<Mark>) {
        let Some(started) = process_group::start_time(pid) else {
            return;
        };
        let record = AgentRecord { pid, started, mark };
        let result = serde_json::to_vec(&record)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                crate::os::private::write(&self.ws.state_dir.agent_file(slice), &bytes)
            });
        if let Err(err) = result {
            tracing::warn!(%slice, %err, "cannot record the agent's pid");
        }
    }

    /// The mark every agent of `slice` started by a supervisor of this
    /// repository bears.
    pub(super) fn mark_of(&self, slice: &SliceName) -> Mark {
        Mark {
            slice: slice.to_string(),
            socket: self
                .ws
                .state_dir
                .socket_file()
                .to_string_lossy()
                .into_owned(),
        }
    }

    /// On start: every slice (of the plan, or removed from it but still
    /// in `state.json`) whose recorded agent tree, or any process bearing
    /// its mark, still lives is marked, journaled and told; a record whose
    /// tree is gone is dropped. Returns the slices marked.
    pub(super) fn find_left_running(&mut self, names: &[SliceName]) -> Vec<SliceName> {
        let mut names = names.to_vec();
        let removed: Vec<SliceName> = self.state.read(|state| {
            state
                .slices
                .keys()
                .filter(|n| !names.contains(n))
                .cloned()
                .collect()
        });
        names.extend(removed);
        let mut found = Vec::new();
        for slice in &names {
            let path = self.ws.state_dir.agent_file(slice);
            let record = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<AgentRecord>(&bytes).ok());
            let tree = Tree {
                leader: record.as_ref().map_or(0, |r| r.pid),
                leader_started: record.as_ref().map(|r| r.started),
                mark: Some(
                    record
                        .as_ref()
                        .and_then(|r| r.mark.clone())
                        .unwrap_or_else(|| self.mark_of(slice)),
                ),
            };
            let members = process_group::tree_members(&tree);
            let Some(&first) = members.first() else {
                let _ = std::fs::remove_file(&path);
                continue;
            };
            let pid = match &record {
                Some(r)
                    if members.contains(&r.pid) || process_group::start_time(r.pid).is_none() =>
                {
                    r.pid
                }
                _ => first,
            };
            tracing::warn!(%slice, pid, ?members, "an agent's processes the previous supervisor left are still running");
            // A slice removed from the plan gets a slot, so `kill` reaches it.
            self.slots.entry(slice.clone()).or_default().left_running = Some(LeftGroup {
                pid,
                tree,
                ending: false,
            });
            self.record(
                Actor::Sliceboard,
                Event::LeftRunningFound {
                    slice: slice.clone(),
                    pid,
                },
            );
            found.push(slice.clone());
        }
        found
    }

    /// Refuses to start an agent beside a group left running.
    pub(super) fn check_left_running(&self, slice: &SliceName) -> Result<(), AgentsError> {
        match self.left_running(slice) {
            Some(left) => Err(refused(
                slice,
                format!(
                    "agent group {}, left running by a previous supervisor, still runs in its worktree; end it first with `sliceboard kill {slice}`",
                    left.pid
                ),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn left_running(&self, slice: &SliceName) -> Option<&LeftGroup> {
        self.slots
            .get(slice)
            .and_then(|slot| slot.left_running.as_ref())
    }

    /// Ends the group left running in `slice`, on a thread of its own;
    /// its end comes back through the inbox. What was done, for the reply.
    pub(super) fn end_left_running(&mut self, slice: &SliceName) -> Result<String, AgentsError> {
        let grace = self.options.kill_grace;
        let Some(left) = self
            .slots
            .get_mut(slice)
            .and_then(|slot| slot.left_running.as_mut())
        else {
            return Err(refused(slice, "its agent is not running"));
        };
        let pid = left.pid;
        if left.ending {
            return Ok(format!("agent group {pid} is being ended already"));
        }
        left.ending = true;
        let tree = left.tree.clone();
        let inbox = self.inbox_tx.clone();
        let name = slice.clone();
        let spawned = std::thread::Builder::new()
            .name("left-running".into())
            .spawn(move || {
                // The tree takes the leader's session only while its start
                // time still matches: never a stranger that reused the pid.
                let termination = (!process_group::tree_members(&tree).is_empty())
                    .then(|| process_group::terminate_tree(&tree, grace));
                let _ = inbox.send(Inbox::LeftRunningStopped {
                    slice: name,
                    pid,
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

    /// A stop begun by [`Agents::end_left_running`] is over: `None`
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
                (self.report)(Event::Progress {
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

    /// Looks at the trees left running, at most once a second: one that
    /// ended by itself loses its mark. Costs a walk of `/proc` per tree.
    pub(super) fn poll_left_running(&mut self, now: Instant) {
        if now.duration_since(self.left_checked) < CHECK_EVERY {
            return;
        }
        self.left_checked = now;
        let gone: Vec<(SliceName, i32)> = self
            .slots
            .iter()
            .filter_map(|(slice, slot)| {
                let left = slot.left_running.as_ref().filter(|left| !left.ending)?;
                process_group::tree_members(&left.tree)
                    .is_empty()
                    .then(|| (slice.clone(), left.pid))
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
        if slot
            .left_running
            .as_ref()
            .is_none_or(|left| left.pid != pid)
        {
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
        (self.report)(event);
    }
}
