//! [`StateStore`]: the one owner of `state.json`'s contents in a process
//! that holds the state lock.
//!
//! It holds the [`StateLock`] (so having one proves the right to write),
//! keeps the state in memory and is the only writer of the file: every
//! change goes through [`StateStore::update`], which runs the change on a
//! copy, writes `state.json` atomically when the copy differs, appends the
//! change's journal entries and returns their events. Changes are
//! serialized; readers ([`StateStore::read`], [`StateStore::snapshot`])
//! never wait for a write or for the disk, and see the state as it was
//! before a change or after it, never half of one. Each write bumps a
//! generation, so a reader that keeps a snapshot knows when it is old.
//!
//! Clones share one store: the supervisor hands one to every thread that
//! changes state (agents, worktree operations, the merge queue); a command
//! working without a supervisor opens its own for as long as it holds the
//! lock. Knows the file format and the journal; nothing of git. Readers
//! without the lock (`status`, `queue` with no supervisor) read the file
//! with [`super::load_state`], which is always whole.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::{Actor, Journal, State, StateDir, StateLock, StoreError, load_state, save_state};
use crate::domain::Event;

/// An event a change journals, and who caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub actor: Actor,
    pub event: Event,
}

impl Entry {
    /// An event a person caused (through the dashboard or the command line).
    pub fn operator(event: Event) -> Self {
        Self {
            actor: Actor::Operator,
            event,
        }
    }

    /// An event sliceboard caused on its own.
    pub fn sliceboard(event: Event) -> Self {
        Self {
            actor: Actor::Sliceboard,
            event,
        }
    }
}

/// The state as one write left it, and that write's number.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Bumped by every write; the same number is the same state.
    pub generation: u64,
    pub state: Arc<State>,
}

impl std::ops::Deref for Snapshot {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

/// See the module's header. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct StateStore {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    journal: Journal,
    /// Held for the store's life (the last clone's).
    _lock: StateLock,
    /// Taken by [`StateStore::update`] from its read to its journal
    /// entries, so no two changes interleave.
    changing: Mutex<()>,
    current: RwLock<Arc<State>>,
    generation: AtomicU64,
}

impl StateStore {
    /// Reads `state.json` (a missing file is an empty state) under `lock`.
    pub fn open(dir: &StateDir, lock: StateLock) -> Result<Self, StoreError> {
        let state = load_state(&dir.state_file())?;
        Ok(Self::holding(dir, lock, state))
    }

    /// Writes `state` as the whole state, whatever the file held: a lost
    /// `state.json` rebuilt.
    pub fn restore(dir: &StateDir, lock: StateLock, state: State) -> Result<Self, StoreError> {
        save_state(&dir.state_file(), &state)?;
        Ok(Self::holding(dir, lock, state))
    }

    fn holding(dir: &StateDir, lock: StateLock, state: State) -> Self {
        Self {
            shared: Arc::new(Shared {
                path: dir.state_file(),
                journal: dir.journal(),
                _lock: lock,
                changing: Mutex::new(()),
                current: RwLock::new(Arc::new(state)),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// Looks at the state as it is now.
    pub fn read<R>(&self, look: impl FnOnce(&State) -> R) -> R {
        look(&self.current())
    }

    /// The state as it is now, kept as long as the caller likes.
    pub fn snapshot(&self) -> Snapshot {
        let current = self
            .shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Snapshot {
            // Read under the lock the writer bumps it under: they match.
            generation: self.shared.generation.load(Ordering::SeqCst),
            state: current.clone(),
        }
    }

    /// The number of the last write ([`Snapshot::generation`]).
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::SeqCst)
    }

    /// A snapshot when the state changed since `generation`, else `None`.
    pub fn changed_since(&self, generation: u64) -> Option<Snapshot> {
        (self.generation() != generation).then(|| self.snapshot())
    }

    /// Changes the state: `change` edits a copy and says what happened.
    /// When the copy differs, it is written to `state.json` (atomically)
    /// and becomes the state; then the entries are journaled, in order.
    /// Returns their events. Nothing is written when nothing changed, and
    /// a failed write leaves the state as it was.
    pub fn update(
        &self,
        change: impl FnOnce(&mut State) -> Vec<Entry>,
    ) -> Result<Vec<Event>, StoreError> {
        self.try_update(|state| Ok::<_, StoreError>(change(state)))
    }

    /// [`Self::update`] with a change that may refuse: its error leaves
    /// the state and the journal untouched.
    pub fn try_update<E: From<StoreError>>(
        &self,
        change: impl FnOnce(&mut State) -> Result<Vec<Entry>, E>,
    ) -> Result<Vec<Event>, E> {
        let _changing = self
            .shared
            .changing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let before = self.current();
        let mut after = State::clone(&before);
        let entries = change(&mut after)?;
        if after != *before {
            save_state(&self.shared.path, &after)?;
            let mut current = self
                .shared
                .current
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            *current = Arc::new(after);
            self.shared.generation.fetch_add(1, Ordering::SeqCst);
        }
        let mut events = Vec::with_capacity(entries.len());
        for Entry { actor, event } in entries {
            self.shared.journal.record(actor, event.clone())?;
            events.push(event);
        }
        Ok(events)
    }

    fn current(&self) -> Arc<State> {
        self.shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::domain::{Lifecycle, SliceName};
    use crate::store::SliceRecord;

    fn record() -> SliceRecord {
        SliceRecord {
            lifecycle: Lifecycle::Ready,
            branch: "slice/a".into(),
            worktree: PathBuf::from("/w/a"),
            worktree_name: "a".into(),
            created_by_sliceboard: true,
            base_commit: "0".repeat(40),
            last_seen_tip: None,
            approvals: vec![],
            merged: None,
            attention: None,
            upstream_merged: vec![],
            ports: std::collections::BTreeMap::new(),
            updated_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn store(root: &Path) -> (StateDir, StateStore) {
        let dir = StateDir::for_common_dir(root);
        dir.ensure().unwrap();
        let lock = StateLock::acquire(&dir.lock_file(), "test").unwrap();
        let store = StateStore::open(&dir, lock).unwrap();
        (dir, store)
    }

    #[test]
    fn an_update_writes_the_file_journals_its_entries_and_returns_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, store) = store(tmp.path());
        let a = SliceName::parse("a").unwrap();
        let changed = Event::LifecycleChanged {
            slice: a.clone(),
            from: Lifecycle::Planned,
            to: Lifecycle::Ready,
        };
        let events = store
            .update(|state| {
                state.slices.insert(a.clone(), record());
                vec![Entry::sliceboard(changed.clone())]
            })
            .unwrap();
        assert_eq!(events, vec![changed.clone()]);
        assert_eq!(store.generation(), 1);
        assert_eq!(
            load_state(&dir.state_file()).unwrap(),
            *store.snapshot().state
        );
        let journal = dir.journal().read().unwrap();
        assert_eq!(journal.entries.len(), 1);
        assert_eq!(journal.entries[0].actor, Actor::Sliceboard);
        assert_eq!(journal.entries[0].event, changed);
    }

    #[test]
    fn nothing_changed_writes_nothing_and_a_refusal_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, store) = store(tmp.path());
        store.update(|_| Vec::new()).unwrap();
        assert!(!dir.state_file().exists());
        assert_eq!(store.generation(), 0);
        let refused: Result<Vec<Event>, StoreError> = store.try_update(|state| {
            state
                .slices
                .insert(SliceName::parse("a").unwrap(), record());
            Err(StoreError::NewerSchema {
                path: PathBuf::new(),
                found: 9,
            })
        });
        assert!(refused.is_err());
        assert!(store.read(|s| s.slices.is_empty()));
        assert!(!dir.state_file().exists());
        assert_eq!(store.changed_since(0).map(|s| s.generation), None);
    }
}
