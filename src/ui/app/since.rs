//! "What changed since I last looked": the Diff tab shows, instead of the
//! slice's whole diff against its merge base, its changes since the
//! operator's last look (a review sent, an approval), as GitHub's
//! "changes since your last review". The supervisor reads that diff from
//! git; the model asks for it again whenever the slice's live diff moves,
//! so it is never older than the board. Pure.

use std::sync::Arc;

use super::{App, Mode, Tab};
use crate::domain::SliceName;
use crate::domain::comments::SinceLook;
use crate::domain::diff::SliceDiff;
use crate::domain::short_commit;
use crate::ui::keymap::Action;

/// The Diff tab showing changes since the last look at a slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Since {
    pub slice: SliceName,
    /// The last diff read, once one is.
    pub shown: Option<Arc<SliceDiff>>,
    pub looked: Option<crate::domain::comments::Looked>,
    /// A read is needed (asked for, or the live diff moved).
    wanted: bool,
    /// A read is on its way.
    asking: bool,
}

impl App {
    /// `L`: the changes since the last look, or back to the whole diff.
    pub(super) fn toggle_since(&mut self) {
        let Some(row) = self.selected() else { return };
        let slice = row.name.clone();
        if self.since.as_ref().is_some_and(|s| s.slice == slice) {
            self.since = None;
            self.message = Some(format!("{slice}: the whole diff against its merge base"));
        } else if row.review.looked.is_none() {
            self.message = Some(format!(
                "no last look at {slice} yet: approving it ({}) or sending it a review records one",
                self.keymap.key(Action::Approve)
            ));
            return;
        } else {
            self.since = Some(Since {
                slice: slice.clone(),
                shown: None,
                looked: None,
                wanted: true,
                asking: false,
            });
            self.message = Some(format!(
                "{slice}: changes since your last look ({} again: the whole diff)",
                self.keymap.key(Action::DiffSince)
            ));
        }
        if self.mode == Mode::Review {
            self.mode = Mode::Board;
        }
        self.tab = Tab::Diff;
        (self.diff_file, self.diff_scroll) = (0, 0);
    }

    /// The slice whose changes since the last look should be read now, if
    /// one should (the caller sends the request and reports its answer to
    /// [`App::since_read`]).
    pub fn since_to_read(&mut self) -> Option<SliceName> {
        let since = self.since.as_mut().filter(|s| s.wanted && !s.asking)?;
        (since.wanted, since.asking) = (false, true);
        Some(since.slice.clone())
    }

    /// The supervisor's answer: the diff since the last look, or why not.
    pub fn since_read(&mut self, slice: &SliceName, answer: Result<String, String>) {
        let Some(since) = self.since.as_mut().filter(|s| &s.slice == slice) else {
            return;
        };
        since.asking = false;
        let read = answer.and_then(|json| {
            serde_json::from_str::<SinceLook>(&json).map_err(|err| err.to_string())
        });
        match read {
            Ok(look) => {
                since.shown = Some(Arc::new(look.diff));
                since.looked = Some(look.looked);
                self.clamp_diff();
            }
            Err(why) => {
                self.since = None;
                self.message = Some(format!("{slice}: no diff since the last look: {why}"));
            }
        }
    }

    /// The slice's live diff moved: what changed since the last look is
    /// read again.
    pub(super) fn since_moved(&mut self, slice: &SliceName) {
        if let Some(since) = self.since.as_mut().filter(|s| &s.slice == slice) {
            since.wanted = true;
        }
    }

    /// The changes since the last look, when the Diff tab shows them for
    /// the selected slice.
    pub fn since_shown(&self) -> Option<&Since> {
        self.since
            .as_ref()
            .filter(|s| self.selected().is_some_and(|r| r.name == s.slice))
    }

    /// The Diff tab's summary words for the last look.
    pub fn since_words(since: &Since) -> String {
        match &since.looked {
            Some(looked) => format!(
                "since your last look: {} {}",
                looked.how,
                short_commit(&looked.commit),
            ),
            None => "since your last look (reading…)".into(),
        }
    }
}
