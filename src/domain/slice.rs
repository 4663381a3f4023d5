//! Slice names and the states a slice and its agent move through.
//!
//! Plain data: nothing here knows about git, files or terminals. A
//! [`SliceName`] can only be built from a string that is safe as a folder
//! name, inside a git branch name and in an environment variable value, so
//! every layer above may use it without re-checking.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest slice name we accept; keeps paths and the board readable.
pub const MAX_NAME_LEN: usize = 48;

/// A validated slice name: `[A-Za-z0-9][A-Za-z0-9._-]*`, no `..`, not ending
/// in `.` or `.lock`, at most [`MAX_NAME_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SliceName(String);

/// Why a string cannot be a slice name, phrased so it can follow "the name ... ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("is empty")]
    Empty,
    #[error("is longer than {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("must start with a letter or digit")]
    BadStart,
    #[error("contains {0:?}; only letters, digits, '.', '_' and '-' are allowed")]
    BadChar(char),
    #[error("contains \"..\", which git refuses in branch names")]
    DoubleDot,
    #[error("ends with {0:?}, which git refuses in branch names")]
    BadEnd(&'static str),
}

/// A name as an owner, as English writes it: `staging's`, `views'`.
pub fn possessive(name: impl std::fmt::Display) -> String {
    let name = name.to_string();
    if name.ends_with('s') {
        name + "'"
    } else {
        name + "'s"
    }
}

impl SliceName {
    pub fn parse(raw: &str) -> Result<Self, NameProblem> {
        let first = raw.chars().next().ok_or(NameProblem::Empty)?;
        if raw.chars().count() > MAX_NAME_LEN {
            return Err(NameProblem::TooLong);
        }
        if !first.is_ascii_alphanumeric() {
            return Err(NameProblem::BadStart);
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(NameProblem::BadChar(bad));
        }
        if raw.contains("..") {
            return Err(NameProblem::DoubleDot);
        }
        for end in [".lock", "."] {
            if raw.ends_with(end) {
                return Err(NameProblem::BadEnd(end));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A label (a folder's name) made fit for a slice name: characters
    /// other than letters, digits, `-` and `_` become `-`, and leading or
    /// trailing `-` go. May still be empty or invalid: parse it.
    pub fn clean_label(label: &str) -> String {
        let clean: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        clean.trim_matches('-').to_owned()
    }
}

impl TryFrom<String> for SliceName {
    type Error = NameProblem;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SliceName> for String {
    fn from(name: SliceName) -> Self {
        name.0
    }
}

impl fmt::Display for SliceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SliceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Where a slice stands in the refactor. Persisted in `state.json`.
///
/// ```text
/// planned -> ready -> active -> approved -> merged -> removed
///              ^________|  (approval withdrawn)  |   ^
///              |_________________________________|__ removed (down)
///                                    merged, removed -> cleaned (clean)
/// ```
///
/// A merged slice whose branch gets new commits may be approved and
/// merged again (merged -> approved -> merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// In the plan; no worktree yet.
    Planned,
    /// Worktree and branch exist; no agent started yet.
    Ready,
    /// An agent has been started in the worktree at least once.
    Active,
    /// The operator approved the slice at a recorded commit.
    Approved,
    /// The approved commit reached the integration branch.
    Merged,
    /// The worktree was removed with `sliceboard down`; the branch is kept.
    Removed,
    /// A variant the operator did not pick: its agent stopped, its worktree
    /// removed, its branch kept under `sliceboard/retired/`.
    Retired,
    /// Removed on purpose with `sliceboard clean`: no worktree; its branch
    /// deleted when the integration branch held all of it, otherwise kept
    /// under `sliceboard/cleaned/`. `up` starts it again from the base.
    Cleaned,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Planned => "planned",
            Lifecycle::Ready => "ready",
            Lifecycle::Active => "active",
            Lifecycle::Approved => "approved",
            Lifecycle::Merged => "merged",
            Lifecycle::Removed => "removed",
            Lifecycle::Retired => "retired",
            Lifecycle::Cleaned => "cleaned",
        }
    }

    /// Whether a slice that comes after this one may merge: this one
    /// merged, or it was a variant retired in favour of another.
    pub fn clears_the_way(self) -> bool {
        matches!(self, Lifecycle::Merged | Lifecycle::Retired)
    }

    /// Whether sliceboard removed the worktree on purpose, for good
    /// (`clean`, a variant retired): nothing for `up` to bring back.
    pub fn gone_on_purpose(self) -> bool {
        matches!(self, Lifecycle::Cleaned | Lifecycle::Retired)
    }

    /// Whether a worktree is expected on disk in this state.
    pub fn has_worktree(self) -> bool {
        matches!(
            self,
            Lifecycle::Ready | Lifecycle::Active | Lifecycle::Approved | Lifecycle::Merged
        )
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the slice's agent process is doing, as the supervisor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AgentStatus {
    NotStarted,
    /// Waiting for a free slot under the plan's `max_running` cap.
    Pending,
    Running,
    Paused,
    Exited {
        code: Option<i32>,
    },
    Killed,
}

/// What a running agent is doing, from its own signals first, the
/// terminal bell second and screen heuristics last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Working: a turn in progress, a tool running, output streaming.
    Busy,
    /// Blocked on the operator: a question or a permission prompt.
    Waiting,
    /// Its turn is over and it sits at its prompt.
    Idle,
    /// It says its slice is finished (`sliceboard signal done`).
    Done,
    /// No signal yet, and a quiet screen that matches no known prompt.
    Unknown,
}

/// Where an activity reading came from, so a guess is never shown as a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivitySource {
    /// The agent's own hook (`sliceboard signal`, `sliceboard hook`).
    Signal,
    /// The terminal bell, then silence.
    Bell,
    /// Output timing and prompt patterns on the screen: a guess.
    Screen,
}

#[cfg(test)]
mod tests {

    #[test]
    fn possessive_of_a_name_ending_in_s_is_a_bare_apostrophe() {
        assert_eq!(possessive("views"), "views'");
        assert_eq!(possessive("staging"), "staging's");
    }

    use super::*;

    #[test]
    fn accepts_branch_and_folder_safe_names() {
        for ok in ["staging", "marts-finance", "v2.models", "a_b", "X1"] {
            assert_eq!(SliceName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_names_git_or_the_filesystem_would_refuse() {
        let cases = [
            ("", NameProblem::Empty),
            ("-x", NameProblem::BadStart),
            (".hidden", NameProblem::BadStart),
            ("a/b", NameProblem::BadChar('/')),
            ("a b", NameProblem::BadChar(' ')),
            ("a~1", NameProblem::BadChar('~')),
            ("a..b", NameProblem::DoubleDot),
            ("x.lock", NameProblem::BadEnd(".lock")),
            ("x.", NameProblem::BadEnd(".")),
        ];
        for (raw, want) in cases {
            assert_eq!(SliceName::parse(raw), Err(want), "{raw:?}");
        }
        assert_eq!(
            SliceName::parse(&"a".repeat(MAX_NAME_LEN + 1)),
            Err(NameProblem::TooLong)
        );
    }

    #[test]
    fn serde_rejects_an_invalid_name() {
        let err = serde_json::from_str::<SliceName>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("only letters"), "{err}");
    }
}
