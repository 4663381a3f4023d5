//! Picking one of a slice's competing variants (`sliceboard pick`, the
//! dashboard's pick key): the chosen variant is approved like any slice
//! (the same concerns, the same `force`), and every other variant of the
//! slice is retired: its agent stopped, its worktree removed, its branch
//! renamed under `sliceboard/retired/` so nothing is lost, its record
//! `retired` (which lets slices that come after the family merge once the
//! pick has). Runs on the queue's thread, like `clean`, except the wait
//! for the siblings' agents to end and their worktrees to come down,
//! which runs on a thread of its own (the queue serves everything else
//! meanwhile, and refuses what would touch a sibling on its way out).
//! `merge/pick.json` holds a pick while its siblings are retired; a
//! supervisor killed in the middle leaves it, and the next one finishes
//! the pick on start.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::agents::{AgentPresence, AgentsHandle, Reply};
use crate::domain::{Command, Event, Lifecycle, SliceName};
use crate::store::{Actor, Entry, write_atomic};

use super::MergeQueue;

/// Where retired variants' branches go.
pub const RETIRED_PREFIX: &str = "sliceboard/retired/";
/// The pick being carried out, in `merge/` (only while its siblings are
/// retired).
const PICK_FILE: &str = "pick.json";

/// `merge/pick.json`: which variant was picked and which siblings it
/// retires, so that a pick cut off by a crash is finished on the next
/// start.
#[derive(Debug, Serialize, Deserialize)]
struct PickFile {
    picked: SliceName,
    retire: Vec<SliceName>,
    started: Timestamp,
}
/// How long a retired variant's agent may take to end before its
/// worktree is removed.
const AGENT_END: Duration = Duration::from_secs(20);

/// Why a variant was not retired, which decides what the operator does.
#[derive(Debug)]
pub(super) enum NotRetired {
    /// Its agent (this supervisor's, or a group an earlier one left
    /// running) was told to end and still ran after [`AGENT_END`].
    AgentRuns { pid: i32 },
    /// Anything else: git, the state file, the supervisor.
    Failed(String),
}

impl From<String> for NotRetired {
    fn from(why: String) -> Self {
        NotRetired::Failed(why)
    }
}

impl NotRetired {
    /// Why `variant` was not retired and the command that retires it.
    fn explain(&self, variant: &SliceName, picked: &SliceName) -> String {
        match self {
            NotRetired::AgentRuns { pid } => format!(
                "{variant} is not retired: its agent (group {pid}) still runs {} s after it was told to end; end it with `sliceboard kill {variant}`, then `sliceboard pick {picked}` retires it",
                AGENT_END.as_secs()
            ),
            NotRetired::Failed(why) => format!(
                "{variant} is not retired ({why}); once that is fixed, `sliceboard pick {picked}` retires it"
            ),
        }
    }
}

/// A pick whose siblings' worktrees are coming down: what it said so far,
/// and who waits for the answer (nobody, for a pick an earlier supervisor
/// left half done: the journal is told instead).
pub(super) struct Picking {
    picked: SliceName,
    said: Vec<String>,
    /// The siblings it retired.
    retired: Vec<SliceName>,
    failed: Vec<String>,
    reply: Option<Reply>,
}

impl Picking {
    fn new(picked: SliceName, reply: Option<Reply>) -> Self {
        Self {
            picked,
            said: Vec::new(),
            retired: Vec::new(),
            failed: Vec::new(),
            reply,
        }
    }

    fn retired(&mut self, variant: &SliceName, branch: &str) {
        self.said
            .push(format!("retired {variant}: branch kept as {branch}"));
        self.retired.push(variant.clone());
    }
}

/// Each sibling taken down, or why it was not.
pub(super) type Downs = Vec<(SliceName, Result<(), NotRetired>)>;

/// What retiring a variant takes, once its record is looked at.
enum Retiring {
    /// Nothing more: retired now (the branch it is kept as), or before.
    Done(Option<String>),
    /// Its agent ended and its worktree removed, then its branch.
    Down,
}

impl MergeQueue {
    /// Picks `slice`: approved, its record written, its siblings retired.
    /// The answer goes to `reply` once every sibling is (or could not
    /// be), which for siblings with worktrees is after
    /// [`Self::finish_pick`].
    pub(super) fn pick_variant(&mut self, slice: &SliceName, force: bool, reply: Reply) {
        let mut picking = Picking::new(slice.clone(), None);
        match self.begin_pick(&mut picking, force) {
            Ok(down) => {
                picking.reply = Some(reply);
                self.take_siblings_down(picking, down);
            }
            Err(why) => {
                let _ = reply.send(Err(why));
            }
        }
    }

    /// Takes `down`, the siblings of `picking` with worktrees, down off
    /// the queue's thread; the pick finishes when they are.
    fn take_siblings_down(&mut self, picking: Picking, down: Vec<SliceName>) {
        if down.is_empty() {
            self.finish_pick(picking, Vec::new());
            return;
        }
        for variant in &down {
            self.retiring
                .insert(variant.clone(), picking.picked.clone());
        }
        self.picking = Some(picking);
        let agents = self.deps.agents.clone();
        self.off_thread(
            "merge-queue-retire",
            Box::new(move || {
                let downs = down
                    .into_iter()
                    .map(|variant| {
                        let down = take_down(&agents, &variant);
                        (variant, down)
                    })
                    .collect();
                super::Msg::SiblingsDown(downs)
            }),
        );
    }

    /// The siblings of the pick in progress came down (or did not).
    pub(super) fn siblings_down(&mut self, downs: Downs) {
        if let Some(picking) = self.picking.take() {
            self.finish_pick(picking, downs);
        }
    }

    /// The rest of a pick once its siblings came down (or did not): their
    /// branches kept under `sliceboard/retired/`, their records retired,
    /// the pick's record removed, and the answer sent (a resumed pick's
    /// journaled). A supervisor stopping meanwhile (whose agents refuse)
    /// keeps the record, so the next one finishes the pick.
    fn finish_pick(&mut self, mut picking: Picking, downs: Downs) {
        for (variant, down) in downs {
            self.retiring.remove(&variant);
            match down.and_then(|()| self.retire_branch(&variant, &picking.picked)) {
                Ok(branch) => picking.retired(&variant, &branch),
                Err(why) => picking.failed.push(why.explain(&variant, &picking.picked)),
            }
        }
        if self.stopping && !picking.failed.is_empty() {
            picking.failed.push(
                "the supervisor is stopping: the next one finishes the pick (its record, merge/pick.json, is kept)".to_owned(),
            );
        } else {
            self.remove_pick();
        }
        let Some(reply) = picking.reply.take() else {
            self.record(
                Actor::Sliceboard,
                Event::PickResumed {
                    slice: picking.picked.clone(),
                    retired: picking.retired,
                    left: picking.failed,
                },
            );
            return;
        };
        self.refresh();
        let said = picking.said.join("\n");
        let _ = reply.send(if picking.failed.is_empty() {
            Ok(said)
        } else {
            Err(format!("{said}\n{}", picking.failed.join("\n")))
        });
    }

    /// At stop, the pick whose siblings did not come down in time is
    /// answered: its record stays for the next supervisor to finish.
    pub(super) fn pick_cut_off(&mut self) {
        let Some(picking) = self.picking.take() else {
            return;
        };
        let Some(reply) = picking.reply else {
            return;
        };
        let siblings: Vec<&str> = self.retiring.keys().map(SliceName::as_str).collect();
        let mut said = picking.said;
        said.push(format!(
            "the supervisor stopped before {} came down; the next one finishes the pick (its record, merge/pick.json, is kept)",
            siblings.join(", ")
        ));
        let _ = reply.send(Err(said.join("\n")));
    }

    /// A pick's first part, on the queue's thread: refused, or the pick
    /// approved and recorded, and each sibling that needs no worktree
    /// removed retired (what it says, and the siblings it could not retire
    /// and why, go into `picking`). Returns the siblings whose worktrees
    /// must come down.
    fn begin_pick(&mut self, picking: &mut Picking, force: bool) -> Result<Vec<SliceName>, String> {
        let slice = &picking.picked.clone();
        if let Some((variant, picked)) = self.retiring.iter().next() {
            return Err(format!(
                "cannot pick {slice}: the pick of {picked} is still retiring {variant}; pick again once it has finished"
            ));
        }
        let family = self
            .ws
            .plan
            .slice(slice.as_str())
            .ok_or_else(|| format!("{slice} is not in the plan"))?
            .variant_of
            .clone()
            .ok_or_else(|| {
                format!("{slice} is not a variant: only slices with `variants` in the plan are picked; approve it instead")
            })?;
        let others: Vec<SliceName> = self
            .ws
            .plan
            .variants_of(&family)
            .into_iter()
            .map(|s| s.name.clone())
            .filter(|name| name != slice)
            .collect();
        self.siblings_may_retire(slice, &others)?;
        let approved = self.approve(slice, force)?;
        picking.said.push(approved);
        // Written before the first sibling is retired, removed after the
        // last: a supervisor killed in between leaves it for the next one.
        if let Err(why) = self.save_pick(&PickFile {
            picked: slice.clone(),
            retire: others.clone(),
            started: Timestamp::now(),
        }) {
            tracing::warn!(%why, "cannot record the pick; a crash now would leave it half done");
        }
        let mut down = Vec::new();
        for other in &others {
            match self.retire_at_once(other, slice) {
                Ok(Retiring::Done(Some(branch))) => picking.retired(other, &branch),
                Ok(Retiring::Done(None)) => {}
                Ok(Retiring::Down) => down.push(other.clone()),
                Err(why) => picking.failed.push(why.explain(other, slice)),
            }
        }
        Ok(down)
    }

    /// On start: a pick that a killed supervisor left half done (its
    /// `merge/pick.json`) is finished, retiring the siblings still
    /// standing; what could not be retired is journaled with why.
    pub(super) fn recover_pick(&mut self) {
        let path = self.pick_file();
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let file = match serde_json::from_str::<PickFile>(&text) {
            Ok(file) => file,
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "unreadable pick record; removed");
                self.remove_pick();
                return;
            }
        };
        tracing::info!(picked = %file.picked, "finishing a pick an earlier supervisor left half done");
        // As a pick does, with the journal told at the end instead of
        // whoever asked: the siblings with worktrees come down off the
        // queue's thread, so the queue serves from its start.
        let mut picking = Picking::new(file.picked.clone(), None);
        let mut down = Vec::new();
        for other in &file.retire {
            match self.retire_at_once(other, &file.picked) {
                Ok(Retiring::Done(Some(branch))) => picking.retired(other, &branch),
                Ok(Retiring::Done(None)) => {}
                Ok(Retiring::Down) => down.push(other.clone()),
                Err(why) => picking.failed.push(why.explain(other, &file.picked)),
            }
        }
        self.take_siblings_down(picking, down);
    }

    fn pick_file(&self) -> PathBuf {
        self.ws.state_dir.merge_dir().join(PICK_FILE)
    }

    fn save_pick(&self, file: &PickFile) -> Result<(), String> {
        crate::os::private::create_dir(&self.ws.state_dir.merge_dir())
            .map_err(|e| e.to_string())?;
        let text = serde_json::to_vec_pretty(file).map_err(|e| e.to_string())?;
        write_atomic(&self.pick_file(), &text).map_err(|e| e.to_string())
    }

    fn remove_pick(&self) {
        let _ = std::fs::remove_file(self.pick_file());
    }

    /// Refuses a pick that would retire a sibling on its way into the
    /// integration branch, or leave two variants merged.
    fn siblings_may_retire(
        &mut self,
        slice: &SliceName,
        others: &[SliceName],
    ) -> Result<(), String> {
        let state = self.state();
        for other in others {
            if let Some(going) = self.going(other) {
                return Err(format!("cannot pick {slice}: {going}"));
            }
            if let Some(running) = self.running.as_ref().filter(|r| &r.slice == other) {
                return Err(format!(
                    "cannot pick {slice}: {} merge check is running (attempt {}); wait for it to end, then pick again",
                    crate::domain::possessive(other),
                    running.number
                ));
            }
            if self.speculating().contains(other) {
                return Err(format!(
                    "cannot pick {slice}: {} merge check is running; wait for it to end, then pick again",
                    crate::domain::possessive(other),
                ));
            }
            if state
                .slices
                .get(other)
                .is_some_and(|r| r.lifecycle == Lifecycle::Merged)
            {
                return Err(format!(
                    "cannot pick {slice}: {other} is merged already, and picking another variant would merge both"
                ));
            }
        }
        Ok(())
    }

    /// What retires `variant` without waiting: a variant never made, or
    /// retired already, or without a worktree, is done here; one with a
    /// worktree must come [`Retiring::Down`] first.
    fn retire_at_once(
        &mut self,
        variant: &SliceName,
        picked: &SliceName,
    ) -> Result<Retiring, NotRetired> {
        let state = self.state();
        let Some(record) = state.slices.get(variant) else {
            // Never made: nothing to keep, but its record says retired, so
            // `up` never makes it and slices after the family may merge.
            let repo = crate::domain::plan::repo_name(self.ws.git.root());
            let record = crate::store::SliceRecord {
                lifecycle: Lifecycle::Retired,
                branch: self.ws.plan.branch_for(variant, &repo),
                worktree: self.ws.plan.worktree_for(variant, self.ws.git.root()),
                worktree_name: variant.to_string(),
                created_by_sliceboard: false,
                base_commit: String::new(),
                last_seen_tip: None,
                approvals: Vec::new(),
                merged: None,
                attention: None,
                upstream_merged: Vec::new(),
                ports: std::collections::BTreeMap::new(),
                updated_at: jiff::Timestamp::now(),
            };
            self.change(|state| {
                state.slices.entry(variant.clone()).or_insert(record);
                vec![Entry::operator(Event::LifecycleChanged {
                    slice: variant.clone(),
                    from: Lifecycle::Planned,
                    to: Lifecycle::Retired,
                })]
            })?;
            return Ok(Retiring::Done(None));
        };
        if record.lifecycle == Lifecycle::Retired {
            return Ok(Retiring::Done(None));
        }
        if record.lifecycle.has_worktree() {
            return Ok(Retiring::Down);
        }
        self.retire_branch(variant, picked)
            .map(|branch| Retiring::Done(Some(branch)))
    }

    /// A variant whose worktree is gone: its branch renamed under
    /// `sliceboard/retired/` and its record retired; the branch's new name.
    fn retire_branch(
        &mut self,
        variant: &SliceName,
        picked: &SliceName,
    ) -> Result<String, NotRetired> {
        let state = self.state();
        let record = state
            .slices
            .get(variant)
            .ok_or_else(|| format!("{variant} has no record"))?;
        let from = record.lifecycle;
        let branch = record.branch.clone();
        let retired = self.free_branch_name(RETIRED_PREFIX, variant);
        if self.ws.git.branch_exists(&branch) {
            self.ws
                .git
                .rename_branch(&branch, &retired)
                .map_err(|e| format!("its worktree is gone, but {e}"))?;
        }
        let entries = vec![
            Entry::operator(Event::SliceRetired {
                slice: variant.clone(),
                picked: picked.clone(),
                branch: retired.clone(),
            }),
            Entry::operator(Event::LifecycleChanged {
                slice: variant.clone(),
                from,
                to: Lifecycle::Retired,
            }),
        ];
        self.record_gone_on_purpose(variant, Lifecycle::Retired, Some(&retired), entries)?;
        Ok(retired)
    }

    /// `PREFIX` + `NAME` (`sliceboard/retired/NAME`), or with a number
    /// when a branch of that name exists (a slice retired or cleaned
    /// before, in an earlier plan).
    pub(super) fn free_branch_name(&self, prefix: &str, slice: &SliceName) -> String {
        let first = format!("{prefix}{slice}");
        if !self.ws.git.branch_exists(&first) {
            return first;
        }
        (2..)
            .map(|n| format!("{first}-{n}"))
            .find(|name| !self.ws.git.branch_exists(name))
            .unwrap_or(first)
    }
}

/// Ends the variant's agent, if one runs there (this supervisor's, or a
/// group an earlier one left running: `KillAgent` ends either), waits for
/// it to be gone, and removes its worktree, uncommitted work and all: the
/// operator confirmed the pick. Blocks up to [`AGENT_END`] and the
/// `down`: the queue calls it off its thread.
fn take_down(agents: &AgentsHandle, variant: &SliceName) -> Result<(), NotRetired> {
    use super::answer;
    // Not running is fine: the kill only matters when it is.
    let _ = answer(agents.request(Command::KillAgent {
        slice: variant.clone(),
    }));
    let deadline = Instant::now() + AGENT_END;
    loop {
        let presence = agents
            .agent_presence(variant)
            .blocking_recv()
            .map_err(|_| "the supervisor did not answer".to_owned())?;
        match presence {
            AgentPresence::Gone => break,
            AgentPresence::Ours { pid } | AgentPresence::LeftRunning { pid } => {
                if Instant::now() >= deadline {
                    return Err(NotRetired::AgentRuns { pid });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    answer(agents.request(Command::Down {
        slice: variant.clone(),
        force: true,
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_not_retired_is_told_with_the_commands_that_retire_it() {
        let variant = SliceName::parse("staging.2").unwrap();
        let picked = SliceName::parse("staging.1").unwrap();
        let runs = NotRetired::AgentRuns { pid: 42 }.explain(&variant, &picked);
        assert!(
            runs.contains("group 42")
                && runs.contains("`sliceboard kill staging.2`, then `sliceboard pick staging.1`"),
            "{runs}"
        );
        let failed = NotRetired::Failed("branch locked".into()).explain(&variant, &picked);
        assert!(
            failed.contains("(branch locked)") && failed.contains("`sliceboard pick staging.1`"),
            "{failed}"
        );
    }
}
