//! Plain-text tables for the command line: columns padded to their
//! widest cell, two spaces apart, no trailing blanks; on a terminal (and
//! without `NO_COLOR`), the header bold and the words that need the eye
//! colored.

use std::io::IsTerminal as _;

/// Prints `header` and `rows` as aligned columns.
pub fn print_table<const N: usize>(header: &[String; N], rows: &[[String; N]]) {
    let color = colors_wanted();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for (at, row) in std::iter::once(header).chain(rows).enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                // The last column is not padded: no trailing blanks.
                let text = if column + 1 == N {
                    cell.clone()
                } else {
                    format!("{cell:<width$}")
                };
                // Names (the first column) and branches are never colored
                // for the words they happen to hold.
                let style = match (color, at) {
                    (false, _) => None,
                    (true, 0) => Some(BOLD),
                    (true, _) if column == 0 || cell.contains('/') => None,
                    (true, _) => style_of(cell),
                };
                match style {
                    // Colored over the word only, the padding after it plain.
                    Some(code) => {
                        let pad = text.len() - text.trim_end().len();
                        format!("{code}{}{RESET}{}", text.trim_end(), " ".repeat(pad))
                    }
                    None => text,
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

/// Colors on a terminal, unless `NO_COLOR` is set (no-color.org).
pub fn colors_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The color a cell's words call for: failures red, what waits for you
/// yellow, merged cyan, approved and passing green.
fn style_of(cell: &str) -> Option<&'static str> {
    let lower = cell.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["fail", "error", "abort", "conflict", "missing"])
        || (lower.starts_with("exited(") && !lower.starts_with("exited(0)"))
    {
        Some(RED)
    } else if has(&["waiting", "dirty", "stale", "interrupted", "held"]) {
        Some(YELLOW)
    } else if has(&["merged"]) {
        Some(CYAN)
    } else if has(&["approved", "success", "passed", "ready to merge"]) {
        Some(GREEN)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::style_of;

    #[test]
    fn words_that_need_the_eye_get_a_color() {
        assert_eq!(style_of("build: 2 failed"), Some(super::RED));
        assert_eq!(style_of("exited(1)"), Some(super::RED));
        assert_eq!(style_of("exited(0)"), None);
        assert_eq!(style_of("waiting"), Some(super::YELLOW));
        assert_eq!(style_of("merged"), Some(super::CYAN));
        assert_eq!(style_of("approved"), Some(super::GREEN));
        assert_eq!(style_of("clean"), None);
    }
}
