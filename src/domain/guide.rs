//! A walkthrough shown beside the board (the demo's): numbered steps, each
//! ticked when the board shows it was done (agents started, slices
//! approved or merged, two slices seen to conflict). Written by whoever
//! sets the repository up (`sliceboard demo`) into the state folder; the
//! supervisor puts it on the board, so a dashboard attached from
//! elsewhere shows it too.

use serde::{Deserialize, Serialize};

use super::board::Board;
use super::slice::{AgentStatus, Lifecycle, SliceName};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guide {
    pub title: String,
    pub steps: Vec<GuideStep>,
    /// Lines after the steps, never ticked (other keys, commands).
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuideStep {
    /// The step's text, its first line numbered ("1. Start the agents…").
    pub text: String,
    /// What shows it was done; all must hold. None: never ticked.
    #[serde(default)]
    pub done_when: Vec<Done>,
}

/// A fact of the board that says a step was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Done {
    /// The slice's agent has run (or runs).
    Started {
        slice: SliceName,
    },
    /// The slice was approved (or has merged since).
    Approved {
        slice: SliceName,
    },
    Merged {
        slice: SliceName,
    },
    /// The queue showed the two slices conflicting with each other, or the
    /// second conflicting with the integration branch after the first
    /// merged.
    Conflict {
        a: SliceName,
        b: SliceName,
    },
}

impl Done {
    fn holds(&self, board: &Board) -> bool {
        let row = |slice: &SliceName| board.slices.iter().find(|r| &r.name == slice);
        let lifecycle = |slice: &SliceName| row(slice).map(|r| r.lifecycle);
        let merged = |slice: &SliceName| {
            matches!(
                lifecycle(slice),
                Some(Lifecycle::Merged | Lifecycle::Cleaned)
            )
        };
        match self {
            Done::Started { slice } => {
                row(slice).is_some_and(|r| r.status != AgentStatus::NotStarted) || merged(slice)
            }
            Done::Approved { slice } => {
                lifecycle(slice) == Some(Lifecycle::Approved) || merged(slice)
            }
            Done::Merged { slice } => merged(slice),
            Done::Conflict { a, b } => {
                let paired = board
                    .queue
                    .pairs
                    .iter()
                    .any(|p| (&p.a == a && &p.b == b) || (&p.a == b && &p.b == a));
                let with_tip = |s: &SliceName| {
                    board
                        .queue
                        .slices
                        .get(s)
                        .is_some_and(|v| !v.conflicts.is_empty())
                };
                paired
                    || (merged(a) && (with_tip(b) || merged(b)))
                    || (merged(b) && (with_tip(a) || merged(a)))
            }
        }
    }
}

impl GuideStep {
    pub fn done(&self, board: &Board) -> bool {
        !self.done_when.is_empty() && self.done_when.iter().all(|d| d.holds(board))
    }
}

impl Guide {
    /// Each step and whether it was done.
    pub fn ticks(&self, board: &Board) -> Vec<bool> {
        self.steps.iter().map(|s| s.done(board)).collect()
    }

    /// The text as printed and kept in the sample's README: the title,
    /// the steps, the notes.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for step in &self.steps {
            out.push_str(&step.text);
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(note);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::board::SliceRow;
    use std::path::PathBuf;

    fn name(n: &str) -> SliceName {
        SliceName::parse(n).unwrap()
    }

    #[test]
    fn a_step_is_ticked_when_the_board_shows_all_it_asks() {
        let mut board = Board::default();
        for slice in ["a", "b"] {
            board
                .slices
                .push(SliceRow::new(name(slice), Lifecycle::Ready, PathBuf::new()));
        }
        let guide = Guide {
            title: "t".into(),
            steps: vec![
                GuideStep {
                    text: "1. start both".into(),
                    done_when: vec![
                        Done::Started { slice: name("a") },
                        Done::Started { slice: name("b") },
                    ],
                },
                GuideStep {
                    text: "2. approve a".into(),
                    done_when: vec![Done::Approved { slice: name("a") }],
                },
                GuideStep {
                    text: "3. merge a".into(),
                    done_when: vec![Done::Merged { slice: name("a") }],
                },
                GuideStep {
                    text: "notes".into(),
                    done_when: Vec::new(),
                },
            ],
            notes: Vec::new(),
        };
        assert_eq!(guide.ticks(&board), [false, false, false, false]);
        board.slices[0].status = AgentStatus::Running;
        assert_eq!(guide.ticks(&board), [false, false, false, false]);
        board.slices[1].status = AgentStatus::Exited { code: Some(0) };
        board.slices[0].lifecycle = Lifecycle::Approved;
        assert_eq!(guide.ticks(&board), [true, true, false, false]);
        board.slices[0].lifecycle = Lifecycle::Merged;
        assert_eq!(guide.ticks(&board), [true, true, true, false]);
        assert!(guide.text().starts_with("t\n1. start both\n"));
    }
}
