//! The dashboard model's diff part: keeping the Diff tab on its file across
//! live-diff updates, and moving through the
//! Diff tab by file, hunk, scroll and search. Pure, like the rest of `app`.

use std::collections::VecDeque;

use super::app::{App, Tab};
use crate::domain::SliceName;
use crate::domain::diff::{FileDiff, SliceDiff};

impl App {
    /// Before a slice's diff changes: remembers which file the Diff tab
    /// shows, so it can stay on it wherever the update sorts it.
    pub(super) fn before_diff(&mut self, slice: &SliceName) {
        self.shown_file = self
            .selected()
            .filter(|r| &r.name == slice)
            .and(self.selected_file())
            .map(|f| f.path.clone());
    }

    pub(super) fn after_diff(&mut self, _slice: &SliceName) {
        if let Some(path) = self.shown_file.take() {
            match self
                .selected_diff()
                .and_then(|d| d.files.iter().position(|f| f.path == path))
            {
                Some(at) => self.diff_file = at,
                None => self.diff_scroll = 0,
            }
        }
        self.clamp_diff();
    }

    /// Keeps the Diff tab's file and scroll inside the selected diff.
    pub fn clamp_diff(&mut self) {
        let files = self.selected_diff().map_or(0, |d| d.files.len());
        if self.diff_file >= files {
            (self.diff_file, self.diff_scroll) = (files.saturating_sub(1), 0);
        }
        let lines = self.selected_file().map_or(0, file_lines);
        if self.diff_scroll >= lines {
            self.diff_scroll = lines.saturating_sub(1);
        }
    }

    /// Selects slice `index` (a click on the board): its diff from the top.
    /// Selects another slice: its Diff tab starts at the top, and the
    /// footer's report about the last slice goes.
    pub fn select_slice(&mut self, index: usize) {
        if index < self.board.slices.len() && index != self.selected {
            self.selected = index;
            self.since = None;
            (self.diff_file, self.diff_scroll) = (0, 0);
            self.message = None;
        }
    }

    /// Scrolls the Diff, dbt or Logs tab by `lines`: negative goes back
    /// (up), positive forward.
    pub fn scroll_tab(&mut self, lines: isize) {
        match self.tab {
            Tab::Diff => {
                let len = self.selected_file().map_or(0, file_lines);
                self.diff_scroll = self
                    .diff_scroll
                    .saturating_add_signed(lines)
                    .min(len.saturating_sub(1));
            }
            Tab::Logs | Tab::Dbt => {
                let len = self.log_buffer().map_or(0, VecDeque::len);
                self.log_scroll = self
                    .log_scroll
                    .saturating_add_signed(-lines)
                    .min(len.saturating_sub(1));
            }
            Tab::Terminal | Tab::Events => {}
        }
    }

    /// Shows file `index` of the selected slice's diff.
    pub fn select_file(&mut self, index: usize) {
        let files = self.selected_diff().map_or(0, |d| d.files.len());
        if index < files {
            (self.diff_file, self.diff_scroll) = (index, 0);
        }
    }

    /// The diff the Diff tab shows: the selected slice's, or its changes
    /// since the last look (`None` while they are read).
    pub fn selected_diff(&self) -> Option<&SliceDiff> {
        match self.since_shown() {
            Some(since) => since.shown.as_deref(),
            None => self.selected()?.diff.as_deref(),
        }
    }

    /// The file the Diff tab shows.
    pub fn selected_file(&self) -> Option<&FileDiff> {
        self.selected_diff()?.files.get(self.diff_file)
    }

    /// Moves the Diff tab by files (`hunk` false) or hunks (true); past a
    /// file's last hunk, on to the next file.
    pub(super) fn step_diff(&mut self, forward: bool, hunk: bool) {
        let files = self.selected_diff().map_or(0, |d| d.files.len());
        if files == 0 {
            self.message = Some("nothing changed in this slice yet".into());
            return;
        }
        if hunk && let Some(file) = self.selected_file() {
            let starts = hunk_starts(file);
            let next = if forward {
                starts.iter().find(|&&at| at > self.diff_scroll).copied()
            } else {
                starts
                    .iter()
                    .rev()
                    .find(|&&at| at < self.diff_scroll)
                    .copied()
            };
            if let Some(at) = next {
                self.diff_scroll = at;
                return;
            }
        }
        let at = self.diff_file;
        self.diff_file = if forward {
            (at + 1).min(files - 1)
        } else {
            at.saturating_sub(1)
        };
        self.diff_scroll = match (hunk, forward, self.selected_file()) {
            (true, false, Some(file)) if self.diff_file != at => {
                hunk_starts(file).last().copied().unwrap_or(0)
            }
            _ => 0,
        };
    }

    /// Shows the `nth` match of `query` in the selected slice's diff, from
    /// the top: a file's path, a hunk header or a line.
    pub(super) fn find_in_diff(&mut self, query: &str, nth: usize) {
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for (at, file) in self
            .selected_diff()
            .into_iter()
            .flat_map(|d| d.files.iter().enumerate())
        {
            if file.paths().any(|p| p.contains(query)) {
                hits.push((at, 0));
            }
            let mut line = 0;
            for hunk in file.hunks.iter() {
                if hunk.header.contains(query) {
                    hits.push((at, line));
                }
                for (k, diff_line) in hunk.lines.iter().enumerate() {
                    if diff_line.text.contains(query) {
                        hits.push((at, line + 1 + k));
                    }
                }
                line += hunk.lines.len() + 1;
            }
        }
        hits.dedup();
        match hits.get(nth % hits.len().max(1)) {
            Some(&(file, line)) => {
                (self.diff_file, self.diff_scroll) = (file, line);
                self.message = Some(format!(
                    "{query:?}: match {} of {} in the diff (n: next)",
                    nth % hits.len() + 1,
                    hits.len()
                ));
            }
            None => self.message = Some(format!("{query:?} not found in this diff")),
        }
    }
}

/// How many lines the Diff tab draws for a file: each hunk's header and
/// its lines.
/// The line of the new file at row `row` of the file's diff as the Diff
/// tab draws it (a hunk's header, then its lines): the first line at or
/// after it that the new file has (a removed line has none), else the
/// hunk's last.
pub fn line_at(file: &FileDiff, row: usize) -> Option<u32> {
    let mut at = 0;
    let mut last = None;
    for hunk in file.hunks.iter() {
        let rows = hunk.lines.len() + 1;
        if row < at + rows {
            let from = row.saturating_sub(at + 1);
            return hunk.lines[from.min(hunk.lines.len())..]
                .iter()
                .find_map(|l| l.new_line)
                .or_else(|| hunk.lines.iter().rev().find_map(|l| l.new_line));
        }
        last = hunk.lines.iter().rev().find_map(|l| l.new_line).or(last);
        at += rows;
    }
    last
}

pub fn file_lines(file: &FileDiff) -> usize {
    file.hunks.iter().map(|h| h.lines.len() + 1).sum()
}

/// The line each hunk's header is drawn on.
pub fn hunk_starts(file: &FileDiff) -> Vec<usize> {
    let mut at = 0;
    file.hunks
        .iter()
        .map(|h| {
            let start = at;
            at += h.lines.len() + 1;
            start
        })
        .collect()
}
