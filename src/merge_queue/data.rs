//! `[merge] data_diff`: what a passing check's merge does to the data,
//! measured just before the branch would move (so against the published
//! build of exactly the tip it moves from): the models the check built,
//! their rows and columns before and after (`dbt::data_diff`). Journaled,
//! kept for the Queue view, and with `block-on-removed-columns` a merge
//! that removes a column the integration build has does not land: it
//! fails as a failed check does, saying which columns.

use crate::domain::Event;
use crate::domain::plan::DataDiffRule;
use crate::domain::queue::DataDiff;
use crate::store::Actor;

use super::MergeQueue;
use super::check::Running;

impl MergeQueue {
    /// Measures what the passed check's merge does to the data, and says
    /// whether it may land: `Err` (why, and what) when the plan blocks it.
    pub(super) fn judge_data(&mut self, running: &Running) -> Result<(), (String, Vec<String>)> {
        let rule = self.ws.plan.merge.data_diff;
        if rule == DataDiffRule::Off || !self.ws.plan.dbt.defer {
            return Ok(());
        }
        let lane = running.lane();
        let path_var = lane
            .env(&self.ws, &running.slice)
            .into_iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| std::ffi::OsString::from(v));
        let before = self
            .ws
            .state_dir
            .dbt_state_dir()
            .join(crate::store::DBT_DB_FILE);
        let after = self.ws.state_dir.dbt_db(&lane.dbt_owner());
        let measured = crate::dbt::data_diff::measure(
            &lane.project(&self.ws),
            &before,
            &after,
            running.started,
            path_var.as_deref(),
        );
        let file = running.file();
        let diff = match measured {
            Ok((models, unchanged)) => DataDiff {
                attempt: file.number,
                models,
                unchanged,
                unavailable: None,
            },
            Err(why) => DataDiff {
                attempt: file.number,
                unavailable: Some(why),
                ..DataDiff::default()
            },
        };
        let merging = running.slices();
        self.record(
            Actor::Sliceboard,
            Event::Progress {
                slice: Some(file.slice.clone()),
                message: format!(
                    "what merging {} does to the data (attempt {}): {}",
                    crate::domain::queue::names(&merging),
                    file.number,
                    diff.lines().join("; ")
                ),
            },
        );
        for slice in &merging {
            self.data_diffs.insert(slice.clone(), diff.clone());
        }
        if rule != DataDiffRule::BlockOnRemovedColumns {
            return Ok(());
        }
        if let Some(why) = &diff.unavailable {
            return Err((
                format!(
                    "the data diff [merge] data_diff blocks on could not be made: {why} (set data_diff = \"show\" to merge without it)"
                ),
                diff.lines(),
            ));
        }
        let removed = diff.removed_columns();
        if removed.is_empty() {
            return Ok(());
        }
        Err((
            format!(
                "the merge removes column{} the integration build has: {} ([merge] data_diff = \"block-on-removed-columns\")",
                if removed.len() == 1 { "" } else { "s" },
                removed.join(", ")
            ),
            diff.lines(),
        ))
    }
}
