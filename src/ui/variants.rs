//! Competing variants on the board: the pick key asks before approving
//! the selected variant and retiring its siblings (the supervisor's merge
//! queue does the work; see `merge_queue::pick`). Reads the board only.

use super::app::{App, Confirm, Mode};
use super::keymap::Action;
use crate::domain::{Lifecycle, SliceName};

impl App {
    /// Asks to pick the selected slice, when it is a variant.
    pub(super) fn ask_to_pick(&mut self) {
        let Some(row) = self.selected() else {
            return;
        };
        let slice = row.name.clone();
        let Some(family) = row.variant_of.clone() else {
            self.message = Some(format!(
                "{slice} is not a variant; {} approves it",
                self.keymap.key(Action::Approve)
            ));
            return;
        };
        if row.lifecycle == Lifecycle::Retired {
            self.message = Some(format!("{slice} was retired: another variant was picked"));
            return;
        }
        let retired: Vec<SliceName> = self
            .board
            .slices
            .iter()
            .filter(|r| r.variant_of.as_ref() == Some(&family) && r.name != slice)
            .filter(|r| r.lifecycle != Lifecycle::Retired)
            .map(|r| r.name.clone())
            .collect();
        self.mode = Mode::Confirm(Confirm::Pick { slice, retired });
    }
}
