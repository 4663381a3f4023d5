//! The operator's review comments, kept by the hub beside the board that
//! shows them: written against the slice's diff as the board holds it,
//! saved in the slice's `review.json` before anyone is told, and placed
//! again on every diff by `Board::apply`.

use crate::domain::SliceName;
use crate::domain::board::BoardUpdate;
use crate::domain::comments::{self, CommentAt, Looked, Review};
use crate::domain::diff::SliceDiff;

use super::{Hub, Inner, lock};

/// A review ready to send: its text and the comments it holds.
pub struct ReviewToSend {
    pub text: String,
    pub ids: Vec<u32>,
}

impl Hub {
    /// Whether the board holds the slice's diff yet (a comment is written
    /// against it); `None` when there is no such slice.
    pub fn has_diff(&self, slice: &SliceName) -> Option<bool> {
        lock(&self.inner)
            .board
            .row(slice)
            .map(|row| row.diff.is_some())
    }

    /// The slice's review as the board shows it now.
    pub fn review(&self, slice: &SliceName) -> Result<Review, String> {
        lock(&self.inner)
            .board
            .row(slice)
            .map(|row| row.review.clone())
            .ok_or_else(|| no_slice(slice))
    }

    /// The operator's last look at the slice and its worktree; refused
    /// with how to make one when there is none.
    pub fn last_look(&self, slice: &SliceName) -> Result<(Looked, std::path::PathBuf), String> {
        let inner = lock(&self.inner);
        let row = inner.board.row(slice).ok_or_else(|| no_slice(slice))?;
        let looked = row.review.looked.clone().ok_or_else(|| {
            format!("no last look at {slice} yet: approving it or sending it a review records one")
        })?;
        Ok((looked, row.worktree.clone()))
    }

    /// Writes a comment on lines of the slice's diff.
    pub fn comment(&self, slice: &SliceName, at: &CommentAt, text: &str) -> Result<String, String> {
        self.change_review(slice, |review, diff| {
            let diff = diff.ok_or_else(|| format!("{slice}'s diff is not read yet"))?;
            let id = review.take_id();
            let comment = comments::write(diff, at, text, id, jiff::Timestamp::now())?;
            let said = format!("comment #{} on {}", comment.id, comment.location());
            review.comments.push(comment);
            Ok(said)
        })
    }

    /// Rewrites a comment's text.
    pub fn edit_comment(&self, slice: &SliceName, id: u32, text: &str) -> Result<String, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a comment needs some text (delete it instead)".into());
        }
        self.change_review(slice, |review, _| {
            let comment = review
                .comments
                .iter_mut()
                .find(|c| c.id == id)
                .ok_or_else(|| no_comment(slice, id))?;
            text.clone_into(&mut comment.text);
            Ok(format!("comment #{id} on {} changed", comment.location()))
        })
    }

    pub fn delete_comment(&self, slice: &SliceName, id: u32) -> Result<String, String> {
        self.change_review(slice, |review, _| {
            let at = review
                .comments
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| no_comment(slice, id))?;
            let gone = review.comments.remove(at);
            Ok(format!("comment #{id} on {} deleted", gone.location()))
        })
    }

    /// The slice's comments as one review, or why there is none.
    pub fn review_to_send(&self, slice: &SliceName) -> Result<ReviewToSend, String> {
        let inner = lock(&self.inner);
        let row = inner.board.row(slice).ok_or_else(|| no_slice(slice))?;
        if row.review.comments.is_empty() {
            return Err(format!(
                "{slice} has no review comments to send: write some on its Diff tab (c) or with `sliceboard comment`"
            ));
        }
        Ok(ReviewToSend {
            text: comments::review_text(slice.as_str(), &row.review.comments, row.diff.as_deref()),
            ids: row.review.comments.iter().map(|c| c.id).collect(),
        })
    }

    /// The review went to the agent: the comments it held go, and the
    /// slice's branch tip now is the operator's last look.
    pub fn review_sent(&self, slice: &SliceName, ids: &[u32]) -> Result<String, String> {
        self.change_review(slice, |review, _| {
            review.comments.retain(|c| !ids.contains(&c.id));
            Ok(format!(
                "review of {} comment{} sent to {slice}",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            ))
        })
        .inspect(|_| {
            let tip = lock(&self.inner)
                .board
                .queue
                .slices
                .get(slice)
                .and_then(|view| view.tip.clone());
            if let Some(tip) = tip {
                self.looked(slice, tip, "review sent");
            }
        })
    }

    /// Records the operator's last look at the slice, at `commit` of its
    /// branch (a review sent, an approval).
    pub fn looked(&self, slice: &SliceName, commit: String, how: &str) {
        let looked = Looked {
            commit,
            at: jiff::Timestamp::now(),
            how: how.to_owned(),
        };
        let changed = self.change_review(slice, |review, _| {
            review.looked = Some(looked);
            Ok(String::new())
        });
        if let Err(err) = changed {
            tracing::warn!(%slice, %err, "the last look could not be recorded");
        }
    }

    /// Changes a slice's review on a copy, saves it, then puts it on the
    /// board; nothing changes when `change` refuses or the file cannot be
    /// written.
    fn change_review(
        &self,
        slice: &SliceName,
        change: impl FnOnce(&mut Review, Option<&SliceDiff>) -> Result<String, String>,
    ) -> Result<String, String> {
        let mut inner = lock(&self.inner);
        let row = inner.board.row(slice).ok_or_else(|| no_slice(slice))?;
        let mut review = row.review.clone();
        let said = change(&mut review, row.diff.as_deref())?;
        save(&inner, slice, &review)?;
        Self::send_update(
            &mut inner,
            BoardUpdate::Review {
                slice: slice.clone(),
                review,
            },
        );
        Ok(said)
    }
}

fn save(inner: &Inner, slice: &SliceName, review: &Review) -> Result<(), String> {
    match &inner.kept_in {
        Some(dir) => dir
            .save_review(slice, review)
            .map_err(|err| format!("the review could not be saved: {err}")),
        None => Ok(()),
    }
}

fn no_slice(slice: &SliceName) -> String {
    format!("no slice named {slice} on the board")
}

fn no_comment(slice: &SliceName, id: u32) -> String {
    format!("{slice} has no comment #{id}")
}
