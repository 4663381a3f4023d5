//! Cheap syntax highlighting for the Diff tab: keywords, strings, comments
//! and Jinja tags in SQL, keywords in Python, keys in YAML. One pass over a
//! line, no grammar; the diff's own colors (green, red) stay underneath.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Sql,
    Python,
    Yaml,
    Plain,
}

impl Lang {
    pub fn of(path: &str) -> Lang {
        let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
        match ext.to_ascii_lowercase().as_str() {
            "sql" => Lang::Sql,
            "py" => Lang::Python,
            "yml" | "yaml" => Lang::Yaml,
            _ => Lang::Plain,
        }
    }
}

const SQL_KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "join",
    "left",
    "right",
    "inner",
    "outer",
    "full",
    "cross",
    "on",
    "as",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "case",
    "when",
    "then",
    "else",
    "end",
    "group",
    "by",
    "order",
    "having",
    "limit",
    "union",
    "all",
    "distinct",
    "with",
    "insert",
    "into",
    "update",
    "delete",
    "create",
    "table",
    "view",
    "cast",
    "over",
    "partition",
    "qualify",
    "between",
    "like",
    "ilike",
    "exists",
    "coalesce",
    "true",
    "false",
    "asc",
    "desc",
];

const PYTHON_KEYWORDS: &[&str] = &[
    "def", "class", "return", "if", "elif", "else", "for", "while", "in", "import", "from", "as",
    "with", "try", "except", "finally", "raise", "yield", "lambda", "None", "True", "False", "and",
    "or", "not", "is", "pass", "break", "continue", "async", "await",
];

fn keyword() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

fn comment() -> Style {
    Style::new().add_modifier(Modifier::DIM | Modifier::ITALIC)
}

fn string() -> Style {
    Style::new().fg(Color::Yellow)
}

fn template() -> Style {
    Style::new().fg(Color::Magenta)
}

/// The line as spans, each patched over `base`.
pub fn spans(text: &str, lang: Lang, base: Style) -> Vec<Span<'static>> {
    match lang {
        Lang::Plain => vec![Span::styled(text.to_owned(), base)],
        Lang::Yaml => yaml(text, base),
        Lang::Sql => code(text, base, SQL_KEYWORDS, "--", true),
        Lang::Python => code(text, base, PYTHON_KEYWORDS, "#", false),
    }
}

fn yaml(text: &str, base: Style) -> Vec<Span<'static>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('#') {
        return vec![Span::styled(text.to_owned(), base.patch(comment()))];
    }
    match text
        .find(": ")
        .or_else(|| text.strip_suffix(':').map(str::len))
    {
        Some(at) if !text[..at].contains(['"', '\'', '{']) => vec![
            Span::styled(text[..at].to_owned(), base.patch(keyword())),
            Span::styled(text[at..].to_owned(), base),
        ],
        _ => vec![Span::styled(text.to_owned(), base)],
    }
}

/// Words, quoted strings, line comments and (for SQL) `{{ }}`/`{% %}` tags.
fn code(
    text: &str,
    base: Style,
    keywords: &[&str],
    line_comment: &str,
    case_insensitive: bool,
) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let flush = |plain: &mut String, out: &mut Vec<Span<'static>>| {
        if !plain.is_empty() {
            out.push(Span::styled(std::mem::take(plain), base));
        }
    };
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with(line_comment) {
            flush(&mut plain, &mut out);
            out.push(Span::styled(rest.to_owned(), base.patch(comment())));
            return out;
        }
        if case_insensitive && (rest.starts_with("{{") || rest.starts_with("{%")) {
            let close = if rest.starts_with("{{") { "}}" } else { "%}" };
            let end = rest[2..].find(close).map_or(rest.len(), |at| at + 4);
            flush(&mut plain, &mut out);
            out.push(Span::styled(rest[..end].to_owned(), base.patch(template())));
            rest = &rest[end..];
            continue;
        }
        if c == '\'' || c == '"' {
            let end = rest[1..].find(c).map_or(rest.len(), |at| at + 2);
            flush(&mut plain, &mut out);
            out.push(Span::styled(rest[..end].to_owned(), base.patch(string())));
            rest = &rest[end..];
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let end = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            let is_keyword = keywords.iter().any(|k| {
                if case_insensitive {
                    k.eq_ignore_ascii_case(word)
                } else {
                    *k == word
                }
            });
            if is_keyword {
                flush(&mut plain, &mut out);
                out.push(Span::styled(word.to_owned(), base.patch(keyword())));
            } else {
                plain.push_str(word);
            }
            rest = &rest[end..];
            continue;
        }
        plain.push(c);
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut plain, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn styled(text: &str, lang: Lang) -> Vec<(String, bool)> {
        spans(text, lang, Style::new())
            .into_iter()
            .map(|s| (s.content.into_owned(), s.style != Style::new()))
            .collect()
    }

    #[test]
    fn sql_keywords_strings_jinja_and_comments() {
        assert_eq!(
            styled("SELECT id, 'x' from {{ ref('a') }} -- note", Lang::Sql),
            [
                ("SELECT".into(), true),
                (" id, ".into(), false),
                ("'x'".into(), true),
                (" ".into(), false),
                ("from".into(), true),
                (" ".into(), false),
                ("{{ ref('a') }}".into(), true),
                (" ".into(), false),
                ("-- note".into(), true),
            ]
        );
        // Unclosed quotes and tags run to the end of the line.
        let text: String = styled("where x = 'open", Lang::Sql)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(text, "where x = 'open");
    }

    #[test]
    fn yaml_keys_and_python_keywords() {
        assert_eq!(
            styled("  materialized: table", Lang::Yaml),
            [("  materialized".into(), true), (": table".into(), false)]
        );
        assert_eq!(
            styled("def model(dbt):", Lang::Python)[0],
            ("def".into(), true)
        );
        assert_eq!(Lang::of("models/x.SQL"), Lang::Sql);
    }
}
