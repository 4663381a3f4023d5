//! A lost `state.json` is rebuilt, never silently emptied: when it is
//! missing (or does not parse) while the journal holds history, each
//! slice's record is made again from the repository (its worktree and
//! branch as git knows them) and the journal (its lifecycle, base commit,
//! approvals and merge), and a notice says what was rebuilt. A file that
//! did not parse is kept beside it as `state.json.corrupt`. The rebuilt
//! state is written by a [`StateStore`] restored under the state lock.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{Workspace, WorkspaceError};
use crate::domain::{Event, Lifecycle, SliceName};
use crate::store::{
    Approval, Entry, JournalEntry, MergeRecord, SliceRecord, State, StateLock, StateStore,
    StoreError, load_state,
};

/// Rebuilds the state when it is lost and the journal is not empty;
/// returns a line per rebuilt slice (nothing when there was nothing to
/// do, or another process holds the state lock and will see it first).
pub fn rebuild_lost_state(ws: &Workspace) -> Result<Vec<String>, WorkspaceError> {
    let state_file = ws.state_dir.state_file();
    let corrupt = match load_state(&state_file) {
        Ok(_) if state_file.exists() => return Ok(Vec::new()),
        Ok(_) => false,
        Err(StoreError::Corrupt { .. }) => true,
        Err(err) => return Err(err.into()),
    };
    let journal = ws.state_dir.journal().read_all()?;
    if journal.entries.is_empty() {
        return Ok(Vec::new());
    }
    let Ok(lock) = StateLock::acquire(&ws.state_dir.lock_file(), "rebuilding state.json") else {
        return Ok(Vec::new());
    };
    let mut notices = Vec::new();
    if corrupt {
        let aside = state_file.with_extension("json.corrupt");
        std::fs::rename(&state_file, &aside).map_err(|source| WorkspaceError::Io {
            what: format!("cannot move {} aside", state_file.display()),
            source,
        })?;
        notices.push(format!(
            "state.json did not parse; kept as {} and rebuilt",
            aside.display()
        ));
    } else {
        notices.push("state.json was missing; rebuilt from the journal and the repository".into());
    }
    let mut word = JournalWord::read(&journal.entries);
    let mut state = State::default();
    let base_tip = ws.git.branch_tip(&ws.plan.base)?;
    for spec in &ws.plan.slices {
        if let Some((record, said)) = rebuilt_record(ws, &spec.name, &mut word, base_tip)? {
            notices.push(said);
            state.slices.insert(spec.name.clone(), record);
        }
    }
    let store = StateStore::restore(&ws.state_dir, lock, state)?;
    store.update(|_| {
        vec![Entry::sliceboard(Event::Progress {
            slice: None,
            message: notices.join("\n"),
        })]
    })?;
    Ok(notices)
}

/// The journal's last word on each slice.
#[derive(Default)]
struct JournalWord {
    lifecycle: BTreeMap<SliceName, Lifecycle>,
    base: BTreeMap<SliceName, String>,
    approvals: BTreeMap<SliceName, Vec<Approval>>,
    merged: BTreeMap<SliceName, MergeRecord>,
}

impl JournalWord {
    fn read(entries: &[JournalEntry]) -> Self {
        let mut word = Self::default();
        for entry in entries {
            word.hear(entry);
        }
        word
    }

    fn hear(&mut self, entry: &JournalEntry) {
        match &entry.event {
            Event::LifecycleChanged { slice, to, .. } => {
                self.lifecycle.insert(slice.clone(), *to);
            }
            Event::WorktreeCreated {
                slice, base_commit, ..
            } => {
                self.base.insert(slice.clone(), base_commit.clone());
            }
            Event::Approved { slice, commit, .. } => {
                self.approvals
                    .entry(slice.clone())
                    .or_default()
                    .push(Approval {
                        commit: commit.clone(),
                        at: entry.at,
                        withdrawn: false,
                        stale: false,
                    });
            }
            Event::ApprovalWithdrawn { slice } => {
                if let Some(last) = self.approvals.get_mut(slice).and_then(|a| a.last_mut()) {
                    last.withdrawn = true;
                }
            }
            Event::ApprovalStale { slice, .. } => {
                if let Some(last) = self.approvals.get_mut(slice).and_then(|a| a.last_mut()) {
                    last.stale = true;
                }
            }
            Event::Merged {
                slice,
                approved,
                branch,
                commit,
                ..
            } => {
                self.merged.insert(
                    slice.clone(),
                    MergeRecord {
                        approved: approved.clone(),
                        commit: commit.clone(),
                        branch: branch.clone(),
                        at: entry.at,
                    },
                );
            }
            _ => {}
        }
    }
}

/// A slice's record made again from its branch and worktree as git knows
/// them and the journal's word, with a line saying so; `None` when its
/// branch does not exist.
fn rebuilt_record(
    ws: &Workspace,
    name: &SliceName,
    word: &mut JournalWord,
    base_tip: Option<crate::git::Oid>,
) -> Result<Option<(SliceRecord, String)>, WorkspaceError> {
    let repo = crate::domain::plan::repo_name(ws.git.root());
    let branch = ws.plan.branch_for(name, &repo);
    let Some(tip) = ws.git.branch_tip(&branch)? else {
        return Ok(None);
    };
    let worktree = ws
        .git
        .worktree_named(name.as_str())?
        .filter(|w| w.valid)
        .map(|w| w.path);
    let lifecycle = match (&worktree, word.lifecycle.get(name).copied()) {
        (Some(_), Some(Lifecycle::Planned | Lifecycle::Removed) | None) => Lifecycle::Ready,
        (Some(_), Some(other)) => other,
        (None, Some(Lifecycle::Merged)) => Lifecycle::Merged,
        (None, _) => Lifecycle::Removed,
    };
    let base_commit = word
        .base
        .get(name)
        .cloned()
        .or_else(|| base_tip.map(|t| t.to_string()))
        .unwrap_or_default();
    let found = worktree.is_some();
    let record = SliceRecord {
        lifecycle,
        branch,
        worktree: worktree.unwrap_or_else(|| ws.plan.worktree_for(name, ws.git.root())),
        worktree_name: name.to_string(),
        created_by_sliceboard: ws.git.worktree_mark(name.as_str()).as_deref()
            == Some(name.as_str()),
        base_commit,
        last_seen_tip: Some(tip.to_string()),
        approvals: word.approvals.remove(name).unwrap_or_default(),
        merged: word.merged.remove(name),
        attention: None,
        upstream_merged: Vec::new(),
        ports: BTreeMap::new(),
        updated_at: Timestamp::now(),
    };
    let said = notice(name, &record, found);
    Ok(Some((record, said)))
}

/// What was rebuilt of one slice, for the operator.
fn notice(name: &SliceName, record: &SliceRecord, worktree_found: bool) -> String {
    format!(
        "  {name}: {} on {}{}{}",
        record.lifecycle,
        record.branch,
        if worktree_found { "" } else { " (no worktree)" },
        match record.standing_approval() {
            Some(approval) => format!(
                ", approved at {}",
                crate::domain::short_commit(&approval.commit)
            ),
            None => String::new(),
        }
    )
}
