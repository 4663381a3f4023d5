//! The operator's review comments on a slice's diff, as a pull request's
//! line comments: where one is written (`CommentAt`, lines named by side
//! and number), what it holds on to (the text of the lines it is about and
//! the lines around them, not their numbers), where it sits in the diff as
//! the diff changes (`place`: it follows its lines, or is outdated, never
//! moved onto other code), and the one review the agent is sent (`review_text`:
//! each comment with `path:lines`, the quoted hunk and what the operator
//! wrote). Pure: the supervisor keeps them, the board carries them.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::diff::{FileDiff, LineKind, SliceDiff};

/// Which file of the diff a line is in: the slice's (added and unchanged
/// lines) or the merge base's (removed lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Old,
    New,
}

/// A line of a file's diff by side and number: `New` 12 is line 12 of
/// the slice's file, `Old` 12 line 12 of the merge base's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRef {
    pub side: Side,
    pub line: u32,
}

impl LineRef {
    pub fn new(line: u32) -> Self {
        Self {
            side: Side::New,
            line,
        }
    }

    pub fn old(line: u32) -> Self {
        Self {
            side: Side::Old,
            line,
        }
    }
}

/// Where the operator (or a script) puts a comment: from `first` to
/// `last` of the file's diff, both included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentAt {
    pub path: String,
    pub first: LineRef,
    pub last: LineRef,
    /// The lines' text as the writer saw them (the dashboard says): the
    /// comment is refused when the diff moved under it meanwhile, never
    /// put on other code. Empty: not checked (a script names numbers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub saw: Vec<String>,
}

/// One line of code a comment holds on to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLine {
    pub side: Side,
    pub text: String,
}

/// How many lines around the commented ones a comment keeps, to tell
/// apart two places with the same text.
const AROUND: usize = 2;
/// How many lines of the hunk a review quotes on each side of the
/// commented ones.
const QUOTED_AROUND: usize = 3;

/// One comment on a slice's diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Its number in the slice's review, from 1.
    pub id: u32,
    /// The file, as the diff named it when the comment was written.
    pub path: String,
    /// The lines it is about, as they read then.
    pub code: Vec<CodeLine>,
    /// Up to two diff lines before and after them, as they read then.
    pub before: Vec<CodeLine>,
    pub after: Vec<CodeLine>,
    /// The hunk quoted as it read then: what the review shows once the
    /// lines are gone.
    pub quote: String,
    pub text: String,
    pub written: Timestamp,
    /// Where its lines were when written.
    pub was: (LineRef, LineRef),
    /// Where they are in the diff now; `None`: outdated (the lines
    /// changed or went), never guessed.
    #[serde(default)]
    pub placed: Option<Placed>,
}

/// A slice's review: the comments not yet sent, and the operator's last
/// look (the point "changes since my last look" starts from). Kept per
/// slice under `.git/sliceboard/`, carried on the board.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    #[serde(default)]
    pub comments: Vec<Comment>,
    /// The next comment's number: numbers only go up, so a sent comment's
    /// number is never another's.
    #[serde(default)]
    pub next: u32,
    #[serde(default)]
    pub looked: Option<Looked>,
}

/// When the operator last looked at a slice's work as a whole: a review
/// sent or an approval, at a commit of its branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Looked {
    pub commit: String,
    pub at: Timestamp,
    /// `review sent` or `approved`.
    pub how: String,
}

/// What changed in a slice since the operator's last look at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinceLook {
    pub looked: Looked,
    pub diff: super::diff::SliceDiff,
}

impl Review {
    /// Takes the next comment's number.
    pub fn take_id(&mut self) -> u32 {
        let id = self
            .next
            .max(self.comments.iter().map(|c| c.id).max().unwrap_or(0) + 1);
        self.next = id + 1;
        id
    }

    pub fn outdated(&self) -> usize {
        self.comments.iter().filter(|c| c.outdated()).count()
    }
}

/// Where a comment's lines are in the slice's diff now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    /// The file's path in the diff now (a rename moves it).
    pub path: String,
    pub first: LineRef,
    pub last: LineRef,
    /// The rows of the file's diff as the Diff tab draws it (each hunk's
    /// header, then its lines), first and last.
    pub rows: (usize, usize),
}

impl Comment {
    pub fn outdated(&self) -> bool {
        self.placed.is_none()
    }

    /// `path:12` or `path:12-14` for where it is now, or where it was.
    pub fn location(&self) -> String {
        match &self.placed {
            Some(placed) => format!("{}:{}", placed.path, lines_text(placed.first, placed.last)),
            None => format!("{}:{}", self.path, lines_text(self.was.0, self.was.1)),
        }
    }
}

/// The lines a range names: its first and last line of the slice's
/// file, or of the merge base's when it holds only removed lines.
fn span(rows: &[Row<'_>]) -> (LineRef, LineRef) {
    let mut new = rows.iter().filter(|r| r.side == Side::New);
    match (new.next(), rows.iter().rfind(|r| r.side == Side::New)) {
        (Some(a), Some(b)) => (a.at, b.at),
        _ => (rows[0].at, rows[rows.len() - 1].at),
    }
}

/// `12`, `12-14`, or for removed lines `12 (removed)`.
fn lines_text(first: LineRef, last: LineRef) -> String {
    let removed = if first.side == Side::Old {
        " (removed)"
    } else {
        ""
    };
    let (a, b) = (first.line, last.line);
    if a == b {
        format!("{a}{removed}")
    } else {
        format!("{a}-{b}{removed}")
    }
}

/// One line of a file's diff with where it is.
struct Row<'a> {
    side: Side,
    text: &'a str,
    /// `+`, `-` or a space, as a diff writes the line.
    sign: char,
    at: LineRef,
    /// Its row as the Diff tab draws the file.
    row: usize,
    hunk: usize,
}

/// Every line of a file's diff that has a side (notes left out), in order.
fn rows(file: &FileDiff) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    let mut row = 0;
    for (h, hunk) in file.hunks.iter().enumerate() {
        row += 1; // the header
        for line in &hunk.lines {
            let (at, sign) = match line.kind {
                LineKind::Removed => (line.old_line.map(LineRef::old), '-'),
                LineKind::Added => (line.new_line.map(LineRef::new), '+'),
                LineKind::Context => (line.new_line.map(LineRef::new), ' '),
                LineKind::Note => (None, ' '),
            };
            if let Some(at) = at {
                out.push(Row {
                    side: at.side,
                    text: &line.text,
                    sign,
                    at,
                    row,
                    hunk: h,
                });
            }
            row += 1;
        }
    }
    out
}

fn code(rows: &[Row<'_>]) -> Vec<CodeLine> {
    rows.iter()
        .map(|r| CodeLine {
            side: r.side,
            text: r.text.to_owned(),
        })
        .collect()
}

/// The lines `first..=last` of `file`'s diff quoted as a diff, with their
/// hunk's header and up to three lines of the hunk on each side.
fn quote(file: &FileDiff, rows: &[Row<'_>], first: usize, last: usize) -> String {
    let hunk = rows[first].hunk;
    let from = (first.saturating_sub(QUOTED_AROUND)..first)
        .find(|&i| rows[i].hunk == hunk)
        .unwrap_or(first);
    let to = (last + 1..=(last + QUOTED_AROUND).min(rows.len() - 1))
        .rev()
        .find(|&i| rows[i].hunk == rows[last].hunk)
        .unwrap_or(last);
    let mut out = String::new();
    let mut header = None;
    for row in &rows[from..=to] {
        // Each hunk's header before its lines (a range may cross hunks).
        if header != Some(row.hunk) {
            header = Some(row.hunk);
            if let Some(h) = file.hunks.get(row.hunk) {
                let _ = writeln!(out, "{}", h.header);
            }
        }
        let _ = writeln!(out, "{}{}", row.sign, row.text);
    }
    out
}

/// The index of the line `at` names among `rows`.
fn find(rows: &[Row<'_>], at: LineRef) -> Option<usize> {
    rows.iter().position(|r| r.at == at)
}

/// A new comment on `at` in `diff`, numbered `id`; refused, with why, when
/// the diff does not show those lines.
pub fn write(
    diff: &SliceDiff,
    at: &CommentAt,
    text: &str,
    id: u32,
    now: Timestamp,
) -> Result<Comment, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a comment needs some text".into());
    }
    let file = diff
        .files
        .iter()
        .find(|f| f.paths().any(|p| p == at.path))
        .ok_or_else(|| format!("{} is not among the slice's changed files", at.path))?;
    let rows = rows(file);
    let missing = |r: LineRef| {
        format!(
            "{}:{} is not a line the diff shows (it shows {}); comment on a changed line or its context",
            at.path,
            lines_text(r, r),
            shown_ranges(&rows)
        )
    };
    // A deleted file has only the merge base's lines: a line number names one.
    let only_old = rows.iter().all(|r| r.side == Side::Old);
    let find_at = |r: LineRef| {
        find(&rows, r).or_else(|| {
            only_old
                .then(|| find(&rows, LineRef::old(r.line)))
                .flatten()
        })
    };
    let first = find_at(at.first).ok_or_else(|| missing(at.first))?;
    let last = find_at(at.last).ok_or_else(|| missing(at.last))?;
    let (first, last) = (first.min(last), first.max(last));
    let now_reads: Vec<&str> = rows[first..=last].iter().map(|r| r.text).collect();
    if !at.saw.is_empty() && now_reads != at.saw {
        return Err(format!(
            "{}:{} changed while the comment was written; look at them again and comment anew",
            at.path,
            lines_text(at.first, at.last)
        ));
    }
    let mut comment = Comment {
        id,
        path: file.path.clone(),
        code: code(&rows[first..=last]),
        before: code(&rows[first.saturating_sub(AROUND)..first]),
        after: code(&rows[last + 1..(last + 1 + AROUND).min(rows.len())]),
        quote: quote(file, &rows, first, last),
        text: text.to_owned(),
        written: now,
        was: span(&rows[first..=last]),
        placed: None,
    };
    comment.placed = place(&comment, diff);
    Ok(comment)
}

/// The new-side line ranges a file's diff shows, e.g. `10-18, 40-52`.
fn shown_ranges(rows: &[Row<'_>]) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for row in rows.iter().filter(|r| r.side == Side::New) {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == row.at.line => *end = row.at.line,
            _ => ranges.push((row.at.line, row.at.line)),
        }
    }
    if ranges.is_empty() {
        return if rows.is_empty() {
            "no lines: a binary file or a rename".into()
        } else {
            "removed lines only".into()
        };
    }
    ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where `comment`'s lines are in `diff` now: where the same lines (same
/// side, same text) are; among several such places the one whose
/// surrounding lines match best, then the nearest to where they were.
/// `None` (outdated) when the lines are gone, or several places match
/// equally and none by its surrounding lines.
pub fn place(comment: &Comment, diff: &SliceDiff) -> Option<Placed> {
    let file = diff
        .files
        .iter()
        .find(|f| f.paths().any(|p| p == comment.path))?;
    let rows = rows(file);
    let n = comment.code.len();
    if n == 0 || rows.len() < n {
        return None;
    }
    let same = |row: &Row<'_>, line: &CodeLine| row.side == line.side && row.text == line.text;
    let candidates: Vec<usize> = (0..=rows.len() - n)
        .filter(|&i| {
            rows[i..i + n]
                .iter()
                .zip(&comment.code)
                .all(|(r, c)| same(r, c))
        })
        .collect();
    let score = |i: usize| -> usize {
        let before = comment
            .before
            .iter()
            .rev()
            .zip(rows[..i].iter().rev())
            .take_while(|(c, r)| same(r, c))
            .count();
        let after = comment
            .after
            .iter()
            .zip(rows[i + n..].iter())
            .take_while(|(c, r)| same(r, c))
            .count();
        before + after
    };
    let chosen = match candidates.as_slice() {
        [] => return None,
        [one] => *one,
        many => {
            let best = many.iter().map(|&i| score(i)).max().unwrap_or(0);
            if best == 0 {
                return None;
            }
            let was = comment.was.0;
            let distance = |i: usize| {
                let at = rows[i].at;
                if at.side == was.side {
                    at.line.abs_diff(was.line)
                } else {
                    u32::MAX
                }
            };
            many.iter()
                .copied()
                .filter(|&i| score(i) == best)
                .min_by_key(|&i| distance(i))?
        }
    };
    let last = chosen + n - 1;
    let (first_at, last_at) = span(&rows[chosen..=last]);
    Some(Placed {
        path: file.path.clone(),
        first: first_at,
        last: last_at,
        rows: (rows[chosen].row, rows[last].row),
    })
}

/// Places every comment again against a new diff; with no diff read yet,
/// each stays where it was last placed.
pub fn place_all(comments: &mut [Comment], diff: Option<&SliceDiff>) {
    let Some(diff) = diff else { return };
    for comment in comments {
        comment.placed = place(comment, diff);
    }
}

/// The hunk a comment quotes now: from the diff where it sits, else as it
/// read when written.
fn current_quote(comment: &Comment, diff: Option<&SliceDiff>) -> String {
    let found = comment.placed.as_ref().and_then(|placed| {
        let file = diff?.files.iter().find(|f| f.path == placed.path)?;
        let rows = rows(file);
        // By the rows it holds: removed lines at its start included.
        let first = rows.iter().position(|r| r.row == placed.rows.0)?;
        let last = rows.iter().position(|r| r.row == placed.rows.1)?;
        Some(quote(file, &rows, first, last))
    });
    found.unwrap_or_else(|| comment.quote.clone())
}

/// The one prompt a review is: every comment with `path:lines`, the hunk
/// it is about and what the operator wrote; outdated ones say so.
pub fn review_text(slice: &str, comments: &[Comment], diff: Option<&SliceDiff>) -> String {
    let n = comments.len();
    let mut out = format!(
        "Review of slice {slice} from the operator: {n} comment{} on your diff. \
         Address each one (the lines are the slice's files as they are now), \
         then commit.\n",
        if n == 1 { "" } else { "s" }
    );
    for (k, comment) in comments.iter().enumerate() {
        let _ = write!(out, "\n{}. {}", k + 1, comment.location());
        if comment.outdated() {
            out.push_str(" (outdated: these lines have changed since the comment was written)");
        }
        let quote = current_quote(comment, diff);
        let _ = write!(out, "\n```diff\n{quote}```\n{}\n", comment.text.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::diff::{ChangeKind, DiffLine, Hunk, Stage};

    /// A file's diff from lines written as a diff: ` ` context, `+`, `-`;
    /// `@` starts a hunk at (old, new).
    fn file(path: &str, hunks: &[((u32, u32), &[&str])]) -> FileDiff {
        let hunks = hunks
            .iter()
            .map(|((old, new), lines)| {
                let (mut o, mut n) = (*old, *new);
                let lines = lines
                    .iter()
                    .map(|l| {
                        let (sign, text) = l.split_at(1);
                        let (kind, old_line, new_line) = match sign {
                            "+" => {
                                n += 1;
                                (LineKind::Added, None, Some(n - 1))
                            }
                            "-" => {
                                o += 1;
                                (LineKind::Removed, Some(o - 1), None)
                            }
                            _ => {
                                (o, n) = (o + 1, n + 1);
                                (LineKind::Context, Some(o - 1), Some(n - 1))
                            }
                        };
                        DiffLine {
                            kind,
                            old_line,
                            new_line,
                            text: text.to_owned(),
                        }
                    })
                    .collect();
                Hunk {
                    header: format!("@@ -{old} +{new} @@"),
                    lines,
                }
            })
            .collect();
        FileDiff {
            path: path.into(),
            old_path: None,
            kind: ChangeKind::Modified,
            stage: Stage::Tracked,
            binary: false,
            added: 0,
            removed: 0,
            hunks: Arc::new(hunks),
            lines_omitted: 0,
        }
    }

    fn diff(files: Vec<FileDiff>) -> SliceDiff {
        SliceDiff { base: None, files }
    }

    fn at(path: &str, first: u32, last: u32) -> CommentAt {
        CommentAt {
            path: path.into(),
            first: LineRef::new(first),
            last: LineRef::new(last),
            saw: Vec::new(),
        }
    }

    const SQL: &[&str] = &[
        " select",
        "-    id,",
        "+    order_id,",
        "+    cast(amount as int) as amount,",
        "     status",
        " from orders",
    ];

    #[test]
    fn a_comment_names_its_lines_and_quotes_its_hunk() {
        let d = diff(vec![file("m.sql", &[((1, 1), SQL)])]);
        let c = write(
            &d,
            &at("m.sql", 2, 3),
            "rename it",
            1,
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(c.location(), "m.sql:2-3");
        assert_eq!(
            c.quote,
            "@@ -1 +1 @@\n select\n-    id,\n+    order_id,\n+    cast(amount as int) as amount,\n     status\n from orders\n"
        );
        let placed = c.placed.clone().unwrap();
        assert_eq!(placed.rows, (3, 4));
        // Removed lines are named as such.
        let old = CommentAt {
            path: "m.sql".into(),
            first: LineRef::old(2),
            last: LineRef::old(2),
            saw: Vec::new(),
        };
        let c = write(&d, &old, "why?", 2, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(c.location(), "m.sql:2 (removed)");
    }

    #[test]
    fn lines_the_diff_does_not_show_are_refused_with_what_it_shows() {
        let d = diff(vec![file("m.sql", &[((1, 1), SQL)])]);
        let err = write(&d, &at("m.sql", 40, 40), "x", 1, Timestamp::UNIX_EPOCH).unwrap_err();
        assert!(
            err.contains("m.sql:40 is not a line the diff shows (it shows 1-5)"),
            "{err}"
        );
        let err = write(&d, &at("x.sql", 1, 1), "x", 1, Timestamp::UNIX_EPOCH).unwrap_err();
        assert!(err.contains("x.sql is not among"), "{err}");
        let err = write(&d, &at("m.sql", 1, 1), "  ", 1, Timestamp::UNIX_EPOCH).unwrap_err();
        assert!(err.contains("needs some text"), "{err}");
    }

    #[test]
    fn lines_that_changed_while_the_comment_was_written_refuse_it() {
        let d = diff(vec![file("m.sql", &[((1, 1), SQL)])]);
        let mut seen = at("m.sql", 3, 3);
        seen.saw = vec!["    cast(amount as int) as amount,".into()];
        assert!(write(&d, &seen, "ok", 1, Timestamp::UNIX_EPOCH).is_ok());
        // The agent inserted a line above: line 3 is other code now.
        seen.saw = vec!["    order_id,".into()];
        let err = write(&d, &seen, "ok", 1, Timestamp::UNIX_EPOCH).unwrap_err();
        assert!(
            err.contains("m.sql:3 changed while the comment was written"),
            "{err}"
        );
    }

    #[test]
    fn a_range_across_hunks_quotes_each_hunk_under_its_header() {
        let d = diff(vec![file(
            "m.sql",
            &[((1, 1), &[" a", "+b"]), ((20, 21), &["+c", " d"])],
        )]);
        let c = write(&d, &at("m.sql", 2, 21), "both", 1, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(c.quote, "@@ -1 +1 @@\n a\n+b\n@@ -20 +21 @@\n+c\n d\n");
    }

    #[test]
    fn a_comment_follows_its_lines_when_lines_are_inserted_above() {
        let d = diff(vec![file("m.sql", &[((1, 1), SQL)])]);
        let c = write(&d, &at("m.sql", 3, 3), "int?", 1, Timestamp::UNIX_EPOCH).unwrap();
        let mut more: Vec<&str> = vec![" select", "+    -- a note", "+    -- another"];
        more.extend(&SQL[1..]);
        let moved = diff(vec![file("m.sql", &[((1, 1), &more)])]);
        let placed = place(&c, &moved).unwrap();
        assert_eq!(
            (placed.first, placed.last),
            (LineRef::new(5), LineRef::new(5))
        );
        assert_eq!(placed.rows, (6, 6));
    }

    #[test]
    fn a_rewritten_line_makes_its_comment_outdated() {
        let d = diff(vec![file("m.sql", &[((1, 1), SQL)])]);
        let c = write(&d, &at("m.sql", 3, 3), "int?", 1, Timestamp::UNIX_EPOCH).unwrap();
        let mut changed = SQL.to_vec();
        changed[3] = "+    cast(amount as bigint) as amount,";
        assert_eq!(
            place(&c, &diff(vec![file("m.sql", &[((1, 1), &changed)])])),
            None
        );
        // The file gone from the diff: outdated too.
        assert_eq!(place(&c, &diff(Vec::new())), None);
    }

    #[test]
    fn among_equal_lines_the_surrounding_ones_decide_and_a_tie_without_them_is_outdated() {
        let block = |name: &'static str| -> Vec<&'static str> { vec![name, "+  end", "+)"] };
        let mut lines = block("+a as (");
        lines.extend(block("+b as ("));
        let d = diff(vec![file("m.sql", &[((1, 1), &lines)])]);
        // On the second `end`: its line above tells it from the first.
        let c = write(&d, &at("m.sql", 5, 5), "here", 1, Timestamp::UNIX_EPOCH).unwrap();
        let mut swapped = block("+b as (");
        swapped.extend(block("+a as ("));
        let placed = place(&c, &diff(vec![file("m.sql", &[((1, 1), &swapped)])])).unwrap();
        assert_eq!(placed.first, LineRef::new(2));
        // Both blocks now read alike around `end`, but neither as it was.
        let mut other = block("+c as (");
        other.extend(block("+c as ("));
        let d2 = diff(vec![file("m.sql", &[((1, 1), &other)])]);
        let mut lonely = c.clone();
        lonely.before = vec![CodeLine {
            side: Side::New,
            text: "zzz".into(),
        }];
        lonely.after.clear();
        assert_eq!(place(&lonely, &d2), None);
    }

    #[test]
    fn a_review_holds_every_comment_with_its_place_hunk_and_text() {
        let d = diff(vec![
            file("a.sql", &[((1, 1), SQL)]),
            file("b.sql", &[((10, 10), &[" x", "+y", " z"])]),
        ]);
        let one = write(
            &d,
            &at("a.sql", 2, 2),
            "say order_id",
            1,
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        let mut two = write(&d, &at("b.sql", 11, 11), "why y?", 2, Timestamp::UNIX_EPOCH).unwrap();
        two.placed = None;
        let text = review_text("marts", &[one, two], Some(&d));
        assert_eq!(
            text,
            "Review of slice marts from the operator: 2 comments on your diff. Address each one (the lines are the slice's files as they are now), then commit.\n\
             \n1. a.sql:2\n```diff\n@@ -1 +1 @@\n select\n-    id,\n+    order_id,\n+    cast(amount as int) as amount,\n     status\n from orders\n```\nsay order_id\n\
             \n2. b.sql:11 (outdated: these lines have changed since the comment was written)\n```diff\n@@ -10 +10 @@\n x\n+y\n z\n```\nwhy y?\n"
        );
    }
}
