//! Per-worktree debounce: changes gather until a worktree has been quiet
//! for a moment (or a cap passes, so a steady writer still gets refreshed),
//! then leave as one batch. Pure: time is passed in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Past this many changed paths a batch becomes a full re-diff: one walk of
/// the worktree is cheaper than hundreds of limited ones.
pub const MAX_PATHS: usize = 256;

/// What a batch asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    /// Re-diff everything (an overflow, too many paths, a resync).
    pub full: bool,
    /// HEAD, the index or a branch moved: see whether the merge base or
    /// any index entry changed, and re-diff only what did.
    pub git: bool,
    /// Relative paths (files or folders) whose diff may have changed.
    pub paths: BTreeSet<String>,
}

#[derive(Debug)]
struct Pending {
    first: Instant,
    last: Instant,
    batch: Batch,
}

#[derive(Debug)]
pub struct Debouncer<K> {
    quiet: Duration,
    cap: Duration,
    pending: BTreeMap<K, Pending>,
}

impl<K: Ord + Clone> Debouncer<K> {
    pub fn new(quiet: Duration, cap: Duration) -> Self {
        Self {
            quiet,
            cap,
            pending: BTreeMap::new(),
        }
    }

    /// Notes a change to one path of `key`'s worktree.
    pub fn path(&mut self, key: K, path: String, now: Instant) {
        let batch = self.touch(key, now);
        if !batch.full {
            batch.paths.insert(path);
            if batch.paths.len() > MAX_PATHS {
                batch.full = true;
                batch.paths.clear();
            }
        }
    }

    /// Notes that `key`'s HEAD, index or branch moved.
    pub fn git(&mut self, key: K, now: Instant) {
        let batch = self.touch(key, now);
        if !batch.full {
            batch.git = true;
        }
    }

    /// Notes that `key`'s worktree needs a full re-diff.
    pub fn full(&mut self, key: K, now: Instant) {
        let batch = self.touch(key, now);
        batch.full = true;
        batch.git = false;
        batch.paths.clear();
    }

    fn touch(&mut self, key: K, now: Instant) -> &mut Batch {
        let pending = self.pending.entry(key).or_insert(Pending {
            first: now,
            last: now,
            batch: Batch::default(),
        });
        pending.last = now;
        &mut pending.batch
    }

    /// When the earliest batch falls due; `None` when nothing waits.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|p| self.due(p)).min()
    }

    fn due(&self, p: &Pending) -> Instant {
        (p.last + self.quiet).min(p.first + self.cap)
    }

    /// The batches due at `now`, in key order.
    pub fn take_due(&mut self, now: Instant) -> Vec<(K, Batch)> {
        let due: Vec<K> = self
            .pending
            .iter()
            .filter(|(_, p)| self.due(p) <= now)
            .map(|(k, _)| k.clone())
            .collect();
        due.into_iter()
            .filter_map(|k| self.pending.remove(&k).map(|p| (k, p.batch)))
            .collect()
    }

    /// Every pending batch, due or not (someone needs the diffs now).
    pub fn take_all(&mut self) -> Vec<(K, Batch)> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(k, p)| (k, p.batch))
            .collect()
    }

    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_batch_leaves_after_quiet_or_at_the_cap() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(30 * MS, 100 * MS);
        assert_eq!(d.next_due(), None);
        d.path(1, "a".into(), t0);
        d.path(1, "b".into(), t0 + 20 * MS);
        assert_eq!(d.next_due(), Some(t0 + 50 * MS));
        assert!(d.take_due(t0 + 49 * MS).is_empty());
        let due = d.take_due(t0 + 50 * MS);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.paths.len(), 2);
        assert!(d.is_idle());

        // A steady writer is still refreshed at the cap.
        for i in 0..10 {
            d.path(2, "c".into(), t0 + i * 20 * MS);
        }
        assert_eq!(d.next_due(), Some(t0 + 100 * MS));
    }

    #[test]
    fn full_absorbs_paths_and_too_many_paths_become_full() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(30 * MS, 100 * MS);
        d.path("w", "a".into(), t0);
        d.git("w", t0);
        d.full("w", t0);
        d.path("w", "b".into(), t0);
        d.git("w", t0);
        let batch = &d.take_due(t0 + 30 * MS)[0].1;
        assert!(batch.full && !batch.git && batch.paths.is_empty());

        for i in 0..=MAX_PATHS {
            d.path("w", format!("f{i}"), t0);
        }
        assert!(d.take_due(t0 + 30 * MS)[0].1.full);
    }
}
