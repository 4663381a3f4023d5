//! `sliceboard clean`: a slice's worktree removed on purpose, and its
//! branch dealt with so that no commit is ever lost.
//!
//! The worktree goes through the supervisor's `down` (which refuses while
//! the agent runs, and, unless forced, while the worktree holds
//! uncommitted work). The branch is deleted only when the integration
//! branch holds every commit of it; otherwise it is renamed under
//! `sliceboard/cleaned/`, so the commits stay reachable from a ref and a
//! later `up` of a slice with the same name starts afresh from the base.
//! The slice's record becomes `cleaned`.

use crate::agents::Reply;
use crate::domain::{Command, Event, Lifecycle, SliceName};
use crate::git::Oid;
use crate::store::Entry;

use super::MergeQueue;
use super::pick::RETIRED_PREFIX;

/// Where the branches of cleaned slices that held unmerged commits go.
pub const CLEANED_PREFIX: &str = "sliceboard/cleaned/";

/// What became of a cleaned slice's branch.
enum BranchFate {
    /// Every commit was in the integration branch: deleted.
    Deleted,
    /// It held commits the integration branch lacks: kept under this name.
    Kept { name: String, unmerged: usize },
    /// There was no branch left.
    Gone,
}

/// A clean whose worktree is coming down: the rest is done once the
/// agents say it is gone. The queue serves everything else meanwhile (a
/// teardown may take minutes, and a `down` waits for any `up` before it).
pub(super) struct Cleaning {
    pub slice: SliceName,
    pub branch: String,
    pub lifecycle: Lifecycle,
    pub force: bool,
    pub reply: Reply,
}

impl MergeQueue {
    /// Cleans `slice`; the answer goes to `reply`, at once when no
    /// worktree needs to come down, else once it is down
    /// ([`MergeQueue::cleaned`]).
    pub(super) fn clean(&mut self, slice: &SliceName, force: bool, reply: Reply) {
        if self.cleaning.contains(slice) {
            let _ = reply.send(Err(format!(
                "{slice} is being cleaned already: its worktree is coming down"
            )));
            return;
        }
        if let Some(going) = self.going(slice) {
            let _ = reply.send(Err(format!("cannot clean {slice}: {going}")));
            return;
        }
        if self.retiring.values().any(|picked| picked == slice) {
            let _ = reply.send(Err(format!(
                "cannot clean {slice}: it was picked, and its pick is still retiring its siblings; clean it once the pick has finished"
            )));
            return;
        }
        let checked = self.clean_checked(slice, force);
        let (branch, lifecycle) = match checked {
            Ok(checked) => checked,
            Err(why) => {
                let _ = reply.send(Err(why));
                return;
            }
        };
        let cleaning = Cleaning {
            slice: slice.clone(),
            branch,
            lifecycle,
            force,
            reply,
        };
        if !lifecycle.has_worktree() {
            self.cleaned(cleaning, Ok(String::new()));
            return;
        }
        // The `down` is awaited off this thread; its outcome comes back
        // as a message.
        let outcome = self.deps.agents.request(Command::Down {
            slice: slice.clone(),
            force,
        });
        self.cleaning.insert(slice.clone());
        self.off_thread(
            "merge-queue-down",
            Box::new(move || super::Msg::Downed(Box::new(cleaning), super::answer(outcome))),
        );
    }

    /// The rest of a clean, once its worktree's `down` answered.
    pub(super) fn cleaned(&mut self, cleaning: Cleaning, down: Result<String, String>) {
        self.cleaning.remove(&cleaning.slice);
        let outcome = down.and_then(|_| self.clean_branch(&cleaning));
        let _ = cleaning.reply.send(outcome);
    }

    /// What refuses a clean; the slice's branch and lifecycle when
    /// nothing does.
    fn clean_checked(
        &mut self,
        slice: &SliceName,
        force: bool,
    ) -> Result<(String, Lifecycle), String> {
        let state = self.state();
        let record = state
            .slices
            .get(slice)
            .ok_or_else(|| format!("{slice} has no worktree to clean"))?;
        if !record.created_by_sliceboard {
            return Err(format!(
                "{} was not created by sliceboard; remove it yourself if you mean to",
                record.worktree.display()
            ));
        }
        if record.lifecycle == Lifecycle::Cleaned {
            return Err(format!(
                "{slice} was cleaned already{}",
                if self.ws.git.branch_exists(&record.branch) {
                    format!("; its commits are kept on branch {}", record.branch)
                } else {
                    String::new()
                }
            ));
        }
        let branch = record.branch.clone();
        let integration = self.ws.plan.integration.clone();
        let unmerged = self.unmerged_commits(&branch)?;
        if !force {
            if unmerged > 0 {
                return Err(format!(
                    "{slice}'s branch {branch} has {} not in {integration}{}; merge {} first (`sliceboard approve {slice}`, then `sliceboard merge {slice}`), or `sliceboard clean {slice} --force` removes its worktree (uncommitted changes are lost) and keeps {} on branch {}",
                    commits(unmerged),
                    if record.merged.is_some() {
                        " (made after it merged)"
                    } else {
                        ""
                    },
                    them(unmerged),
                    them(unmerged),
                    self.kept_name(slice, &branch)
                ));
            }
            if record.merged.is_none() {
                return Err(format!(
                    "{slice} is not merged; `sliceboard clean {slice} --force` removes its worktree (uncommitted changes are lost) and deletes branch {branch}, which holds no commit {integration} lacks"
                ));
            }
        }
        Ok((branch, record.lifecycle))
    }

    /// The branch of a slice whose worktree is gone, deleted or kept, and
    /// the slice recorded as cleaned.
    fn clean_branch(&mut self, cleaning: &Cleaning) -> Result<String, String> {
        let Cleaning {
            slice,
            branch,
            force,
            ..
        } = cleaning;
        let (branch, force) = (branch.clone(), *force);
        let integration = self.ws.plan.integration.clone();
        let unmerged = self.unmerged_commits(&branch)?;
        let fate = self
            .keep_or_delete(slice, &branch)
            .map_err(|e| format!("the worktree is gone, but {e}; branch {branch} is untouched"))?;
        let kept_as = match &fate {
            BranchFate::Kept { name, .. } => Some(name.clone()),
            BranchFate::Deleted | BranchFate::Gone => None,
        };
        let from = self
            .state()
            .slices
            .get(slice)
            .map_or(cleaning.lifecycle, |r| r.lifecycle);
        let entries = vec![
            Entry::operator(Event::SliceCleaned {
                slice: slice.clone(),
                branch: branch.clone(),
                forced: force && unmerged > 0,
                kept_as: kept_as.clone(),
            }),
            Entry::operator(Event::LifecycleChanged {
                slice: slice.clone(),
                from,
                to: Lifecycle::Cleaned,
            }),
        ];
        self.record_gone_on_purpose(slice, Lifecycle::Cleaned, kept_as.as_deref(), entries)?;
        Ok(match fate {
            BranchFate::Deleted => format!(
                "removed {slice}'s worktree and branch {branch} ({integration} holds every commit of it)"
            ),
            BranchFate::Kept { name, unmerged } if name == branch => format!(
                "removed {slice}'s worktree; branch {branch} is kept with its {} not in {integration}",
                commits(unmerged)
            ),
            BranchFate::Kept { name, unmerged } => format!(
                "removed {slice}'s worktree; its {} not in {integration} {} kept on branch {name} (renamed from {branch}; `git branch -D {name}` drops {})",
                commits(unmerged),
                if unmerged == 1 { "is" } else { "are" },
                if unmerged == 1 { "it" } else { "them" }
            ),
            BranchFate::Gone => format!("removed {slice}'s worktree (branch {branch} was gone)"),
        })
    }

    /// Commits on `branch` that the integration branch (the base before
    /// the first merge) lacks; 0 when the branch is gone.
    fn unmerged_commits(&self, branch: &str) -> Result<usize, String> {
        let git = &self.ws.git;
        let Some(tip) = git.branch_tip(branch).map_err(|e| e.to_string())? else {
            return Ok(0);
        };
        let target: Option<Oid> = git
            .branch_tip(&self.ws.plan.integration)
            .map_err(|e| e.to_string())?
            .map_or_else(|| git.branch_tip(&self.ws.plan.base), |t| Ok(Some(t)))
            .map_err(|e| e.to_string())?;
        match target {
            Some(target) => git
                .ahead_behind(tip, target)
                .map(|(ahead, _)| ahead)
                .map_err(|e| e.to_string()),
            // Nothing to compare with: every commit counts as unmerged.
            None => Ok(usize::MAX),
        }
    }

    /// Deletes the branch when nothing of it would be lost, else keeps it
    /// out of the slice's way under `sliceboard/cleaned/`. Counted again
    /// now that the worktree (and its agent) is gone.
    fn keep_or_delete(&self, slice: &SliceName, branch: &str) -> Result<BranchFate, String> {
        let git = &self.ws.git;
        if !git.branch_exists(branch) {
            return Ok(BranchFate::Gone);
        }
        let unmerged = self.unmerged_commits(branch)?;
        if unmerged == 0 {
            git.delete_branch(branch).map_err(|e| e.to_string())?;
            return Ok(BranchFate::Deleted);
        }
        let name = self.kept_name(slice, branch);
        if name != branch {
            git.rename_branch(branch, &name)
                .map_err(|e| e.to_string())?;
        }
        Ok(BranchFate::Kept { name, unmerged })
    }

    /// The name a branch with unmerged commits is kept under: as it is
    /// when it is out of the slice's way already (a retired variant's),
    /// else `sliceboard/cleaned/NAME` (numbered when taken).
    fn kept_name(&self, slice: &SliceName, branch: &str) -> String {
        if branch.starts_with(RETIRED_PREFIX) || branch.starts_with(CLEANED_PREFIX) {
            return branch.to_owned();
        }
        self.free_branch_name(CLEANED_PREFIX, slice)
    }
}

fn commits(n: usize) -> String {
    match n {
        usize::MAX => "commits".to_owned(),
        1 => "1 commit".to_owned(),
        n => format!("{n} commits"),
    }
}

fn them(n: usize) -> &'static str {
    if n == 1 { "it" } else { "them" }
}
