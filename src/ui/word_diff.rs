//! Word-level highlights inside changed lines, as delta and GitHub show
//! them: a removed line and the added line that replaced it are paired,
//! and the words that differ between them are emphasized on top of the
//! line's colors. Pure: pairs, ranges and spans.

use std::ops::Range;

use ratatui::style::Style;
use ratatui::text::Span;

use crate::domain::diff::{DiffLine, LineKind};

/// The line paired with `lines[at]`: in a run of removed lines followed
/// by a run of added ones, the n-th removed and the n-th added line.
pub fn partner(lines: &[DiffLine], at: usize) -> Option<usize> {
    let kind = lines.get(at)?.kind;
    let run_start = |end: usize, kind: LineKind| {
        (0..end)
            .rev()
            .take_while(|&i| lines[i].kind == kind)
            .last()
            .unwrap_or(end)
    };
    match kind {
        LineKind::Removed => {
            let first = run_start(at, LineKind::Removed);
            let mut end = at;
            while end + 1 < lines.len() && lines[end + 1].kind == LineKind::Removed {
                end += 1;
            }
            let added = end + 1 + (at - first);
            (added < lines.len() && (end + 1..=added).all(|i| lines[i].kind == LineKind::Added))
                .then_some(added)
        }
        LineKind::Added => {
            let first = run_start(at, LineKind::Added);
            let offset = at - first;
            let removed_end = first.checked_sub(1)?;
            if lines[removed_end].kind != LineKind::Removed {
                return None;
            }
            let removed_first = run_start(removed_end, LineKind::Removed);
            let removed = removed_first + offset;
            (removed <= removed_end).then_some(removed)
        }
        LineKind::Context | LineKind::Note => None,
    }
}

/// Words, runs of spaces, and single other characters, with where each
/// starts (in characters).
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize, u8)> = None; // (char index, byte index, class)
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' {
            0
        } else if c.is_whitespace() {
            1
        } else {
            2
        }
    };
    for (n, (byte, c)) in text.char_indices().enumerate() {
        let k = class(c);
        match start {
            Some((_, _, was)) if was == k && k != 2 => {}
            Some((sn, sb, _)) => {
                out.push((sn, &text[sb..byte]));
                start = Some((n, byte, k));
            }
            None => start = Some((n, byte, k)),
        }
    }
    if let Some((sn, sb, _)) = start {
        out.push((sn, &text[sb..]));
    }
    out
}

/// The part of `line` that differs from `other` (in characters): what
/// lies between their common leading and trailing words. `None` when
/// they are the same, or when almost all of the line differs (then the
/// line's own color says it).
pub fn changed(line: &str, other: &str) -> Option<Range<usize>> {
    let a = tokens(line);
    let b = tokens(other);
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x.1 == y.1).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x.1 == y.1)
        .count();
    let chars = line.chars().count();
    let start = a.get(prefix).map_or(chars, |t| t.0);
    let end = if suffix == 0 {
        chars
    } else {
        a[a.len() - suffix].0
    };
    if start >= end {
        return None;
    }
    let kept = chars - (end - start);
    // Less than a fifth in common: the whole line changed.
    (kept * 5 >= chars).then_some(start..end)
}

/// `spans` with `emphasis` added over the characters `range`.
pub fn emphasize(
    spans: Vec<Span<'static>>,
    range: Range<usize>,
    emphasis: Style,
) -> Vec<Span<'static>> {
    let mut out = Vec::with_capacity(spans.len() + 2);
    let mut at = 0;
    for span in spans {
        let len = span.content.chars().count();
        let (from, to) = (at, at + len);
        at = to;
        if to <= range.start || from >= range.end {
            out.push(span);
            continue;
        }
        let cut = |n: usize| -> usize {
            span.content
                .char_indices()
                .nth(n)
                .map_or(span.content.len(), |(b, _)| b)
        };
        let inner_start = range.start.max(from) - from;
        let inner_end = range.end.min(to) - from;
        let (b0, b1) = (cut(inner_start), cut(inner_end));
        let text = span.content.as_ref();
        if b0 > 0 {
            out.push(Span::styled(text[..b0].to_owned(), span.style));
        }
        out.push(Span::styled(
            text[b0..b1].to_owned(),
            span.style.patch(emphasis),
        ));
        if b1 < text.len() {
            out.push(Span::styled(text[b1..].to_owned(), span.style));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;

    fn line(kind: LineKind, text: &str) -> DiffLine {
        DiffLine {
            kind,
            old_line: None,
            new_line: None,
            text: text.into(),
        }
    }

    #[test]
    fn removed_and_added_runs_pair_line_by_line() {
        use LineKind::{Added, Context, Removed};
        let lines = [
            line(Context, "a"),
            line(Removed, "b"),
            line(Removed, "c"),
            line(Added, "B"),
            line(Added, "C"),
            line(Added, "D"),
            line(Context, "e"),
            line(Added, "f"),
        ];
        let pairs: Vec<Option<usize>> = (0..lines.len()).map(|i| partner(&lines, i)).collect();
        assert_eq!(
            pairs,
            [None, Some(3), Some(4), Some(1), Some(2), None, None, None]
        );
    }

    #[test]
    fn the_words_that_differ_are_found_between_common_ends() {
        let old = "    select * from {{ source('shop', 'orders') }} where nvl(status, 'x')";
        let new = "    select * from {{ source('shop', 'orders') }} where coalesce(status, 'x')";
        let range = changed(new, old).unwrap();
        assert_eq!(
            new.chars()
                .skip(range.start)
                .take(range.len())
                .collect::<String>(),
            "coalesce"
        );
        assert_eq!(changed("same", "same"), None);
        assert_eq!(
            changed("abc def", "xyz uvw"),
            None,
            "all changed: no emphasis"
        );
    }

    #[test]
    fn emphasis_splits_spans_at_the_range() {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let spans = vec![Span::raw("ab"), Span::raw("cdé"), Span::raw("f")];
        let out = emphasize(spans, 1..4, bold);
        let shown: Vec<(String, bool)> = out
            .iter()
            .map(|s| {
                (
                    s.content.to_string(),
                    s.style.add_modifier.contains(Modifier::BOLD),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("a".into(), false),
                ("b".into(), true),
                ("cd".into(), true),
                ("é".into(), false),
                ("f".into(), false)
            ]
        );
    }
}
