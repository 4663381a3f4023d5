//! `state.json`: what sliceboard knows about each slice, versioned, and
//! written atomically so it always parses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{StoreError, write_atomic};
use crate::domain::{Lifecycle, SliceName};

/// The version of `state.json` this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema_version: u32,
    #[serde(default)]
    pub slices: BTreeMap<SliceName, SliceRecord>,
}

impl State {
    /// The slices of `after` not merged or retired yet
    /// ([`crate::domain::order::in_the_way`]); one never made is in the way.
    pub fn in_the_way<'a>(&self, after: &'a [SliceName]) -> Vec<&'a SliceName> {
        crate::domain::order::in_the_way(after, |dep| {
            self.slices
                .get(dep)
                .is_some_and(SliceRecord::clears_the_way)
        })
    }
}

impl Default for State {
    fn default() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            slices: BTreeMap::new(),
        }
    }
}

/// One slice as sliceboard last left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceRecord {
    pub lifecycle: Lifecycle,
    pub branch: String,
    /// Absolute path of the worktree.
    pub worktree: PathBuf,
    /// git's name for the worktree (`<common dir>/worktrees/<name>`).
    pub worktree_name: String,
    /// True only when sliceboard created the worktree; nothing else is ever
    /// removed by `sliceboard down`.
    pub created_by_sliceboard: bool,
    /// The base commit the branch started from (or was found at).
    pub base_commit: String,
    /// The branch tip when sliceboard last looked, to spot rewrites.
    pub last_seen_tip: Option<String>,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// Set once the approved commit reached the integration branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeRecord>,
    /// Why the last merge attempt of the standing approval failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
    /// Slices it comes after that merged since its agent was last told.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_merged: Vec<SliceName>,
    /// The TCP ports reserved for it by name (`[worktree] ports`): kept
    /// across restarts, released when it is cleaned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
    pub updated_at: Timestamp,
}

impl SliceRecord {
    /// The approval that stands (the last one, unless withdrawn).
    pub fn standing_approval(&self) -> Option<&Approval> {
        self.approvals.last().filter(|a| !a.withdrawn)
    }

    pub fn standing_approval_mut(&mut self) -> Option<&mut Approval> {
        self.approvals.last_mut().filter(|a| !a.withdrawn)
    }

    /// Whether slices that come after this one may merge: it merged (its
    /// worktree may be gone since, with `down` or `clean`), or it is a
    /// variant retired in favour of another.
    pub fn clears_the_way(&self) -> bool {
        self.lifecycle.clears_the_way()
            || (self.merged.is_some()
                && matches!(self.lifecycle, Lifecycle::Removed | Lifecycle::Cleaned))
    }
}

/// An approved commit that reached the integration branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub approved: String,
    /// The merge commit the integration branch moved to.
    pub commit: String,
    pub branch: String,
    pub at: Timestamp,
}

/// A failed merge attempt, kept until the slice is approved again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attention {
    /// The approved commit that failed.
    pub approved: String,
    pub attempt: u64,
    pub reason: String,
    /// Conflicting paths, when the merge conflicted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// What failed in the check (failing dbt nodes with their message, or
    /// the output's last lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The check's full output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    pub at: Timestamp,
}

/// The operator approved the slice at a commit; only that commit may merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub commit: String,
    pub at: Timestamp,
    #[serde(default)]
    pub withdrawn: bool,
    /// The branch moved after this approval (journaled once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// Reads the state; a missing file is an empty state.
pub fn load_state(path: &Path) -> Result<State, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(err) => return Err(StoreError::io("read", path)(err)),
    };
    #[derive(Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let version: Version = serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    })?;
    if version.schema_version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found: version.schema_version,
        });
    }
    serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

/// Writes the state atomically.
pub fn save_state(path: &Path, state: &State) -> Result<(), StoreError> {
    let mut text = serde_json::to_vec_pretty(state).map_err(|source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    })?;
    text.push(b'\n');
    write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> SliceRecord {
        SliceRecord {
            lifecycle: Lifecycle::Ready,
            branch: format!("slice/s{i}"),
            worktree: PathBuf::from(format!("/w/s{i}")),
            worktree_name: format!("s{i}"),
            created_by_sliceboard: true,
            base_commit: "0".repeat(40),
            last_seen_tip: None,
            approvals: vec![],
            merged: None,
            attention: None,
            upstream_merged: vec![],
            ports: BTreeMap::new(),
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn round_trips_and_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(load_state(&path).unwrap(), State::default());
        let mut state = State::default();
        state
            .slices
            .insert(SliceName::parse("a").unwrap(), record(1));
        save_state(&path, &state).unwrap();
        assert_eq!(load_state(&path).unwrap(), state);
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn newer_schema_and_garbage_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, r#"{"schema_version": 99, "slices": {}}"#).unwrap();
        let err = load_state(&path).unwrap_err().to_string();
        assert!(err.contains("newer sliceboard (schema 99"), "{err}");
        std::fs::write(&path, "{\"schema_vers").unwrap();
        let err = load_state(&path).unwrap_err().to_string();
        assert!(err.contains("is not valid state"), "{err}");
    }
}
