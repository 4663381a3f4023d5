//! The module table in ARCHITECTURE.md, checked against the code: each
//! module's `crate::` paths must be modules its row says it may use, and
//! no crate or module its row says it must not use (in backticks) may
//! appear in it. A test only: the table is the documentation, this keeps
//! it true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What one row of the table allows and forbids.
#[derive(Debug, Default)]
struct Row {
    may_use: BTreeSet<String>,
    must_not_use: BTreeSet<String>,
    every_module: bool,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The crate's top-level modules: `src/NAME.rs` and `src/NAME/`.
fn modules() -> BTreeSet<String> {
    std::fs::read_dir(root().join("src"))
        .expect("src/ is readable")
        .map(|e| e.expect("a folder entry").path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|n| n != "lib" && n != "main" && n != "boundaries")
        .collect()
}

/// Every name in backticks in a cell (`crate::`-style paths keep their
/// first segment).
fn backticked(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|t| t.split("::").next().unwrap_or(t).to_owned())
        .collect()
}

/// The table's rows, by module.
fn table(text: &str) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 4, "a module row has four columns: {line}");
        let module = cells[0].trim().trim_matches('`').to_owned();
        let row = Row {
            may_use: backticked(cells[2]),
            must_not_use: backticked(cells[3]),
            every_module: cells[2].contains("every module"),
        };
        rows.insert(module, row);
    }
    rows
}

/// A module's source files, test modules cut off, comments dropped.
fn code_of(module: &str) -> Vec<(PathBuf, String)> {
    let src = root().join("src");
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let mut folders = vec![src.join(module)];
    while let Some(dir) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.map(|e| e.expect("a folder entry").path()) {
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a source file is readable");
            let text = without_test_module(&text);
            let code = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            (path, code)
        })
        .collect()
}

/// `text` without its `#[cfg(test)] mod tests { … }` (braces counted;
/// tests may use what the code may not, such as `tempfile`).
fn without_test_module(text: &str) -> String {
    let Some(start) = text.find("#[cfg(test)]\nmod tests {") else {
        return text.to_owned();
    };
    let mut depth = 0usize;
    for (at, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => {
                return format!("{}{}", &text[..start], &text[start + at + 1..]);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    text[..start].to_owned()
}

/// The top-level modules `code` names through `crate::`.
fn crate_edges(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            let before = code[..*at].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Whether `code` names the crate or module `name` as a path's start.
fn names(code: &str, name: &str) -> bool {
    code.match_indices(&format!("{name}::")).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

/// Every way the code breaks the table, as "module: file: what".
fn violations(
    table: &BTreeMap<String, Row>,
    modules: &BTreeSet<String>,
    code_of: impl Fn(&str) -> Vec<(PathBuf, String)>,
) -> Vec<String> {
    let mut found = Vec::new();
    for module in modules {
        let Some(row) = table.get(module) else {
            found.push(format!(
                "{module}: no row in ARCHITECTURE.md's module table"
            ));
            continue;
        };
        for (path, code) in code_of(module) {
            let file = path
                .strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string();
            for used in crate_edges(&code) {
                let allowed = used == *module || row.every_module || row.may_use.contains(&used);
                if modules.contains(&used) && !allowed {
                    found.push(format!(
                        "{module}: {file} uses crate::{used}, not in its row"
                    ));
                }
            }
            for banned in &row.must_not_use {
                let path_start = banned.replace('-', "_");
                let uses = if modules.contains(banned) {
                    crate_edges(&code).contains(banned)
                } else {
                    names(&code, &path_start)
                };
                if uses {
                    found.push(format!(
                        "{module}: {file} uses {banned}, which its row forbids"
                    ));
                }
            }
        }
    }
    found
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md is readable")
}

#[test]
fn every_module_uses_only_what_the_module_table_allows() {
    let table = table(&architecture());
    let modules = modules();
    let found = violations(&table, &modules, code_of);
    assert!(
        found.is_empty(),
        "the module table and the code disagree:\n{}",
        found.join("\n")
    );
    let stale: Vec<_> = table.keys().filter(|m| !modules.contains(*m)).collect();
    assert!(
        stale.is_empty(),
        "rows for modules that do not exist: {stale:?}"
    );
}

#[test]
fn a_forbidden_edge_is_found() {
    let table = table(
        "| `domain` | plain data | serde | every other module; `git2` |\n\
         | `store` | files | `domain`; serde_json | `ratatui` |",
    );
    let modules: BTreeSet<String> = ["domain", "store"].map(str::to_owned).into();
    let code = |domain: &'static str, store: &'static str| {
        move |module: &str| {
            let text = if module == "domain" { domain } else { store };
            vec![(
                PathBuf::from(format!("src/{module}/mod.rs")),
                text.to_owned(),
            )]
        }
    };
    let fine = code("use serde::Serialize;", "use crate::domain::Plan;");
    assert_eq!(violations(&table, &modules, fine), Vec::<String>::new());
    let upward = code("use crate::store::State;", "");
    assert_eq!(
        violations(&table, &modules, upward),
        ["domain: src/domain/mod.rs uses crate::store, not in its row"]
    );
    let banned = code(
        "fn f() { git2::Repository::open(\".\"); }",
        "use ratatui::Frame;",
    );
    assert_eq!(
        violations(&table, &modules, banned),
        [
            "domain: src/domain/mod.rs uses git2, which its row forbids",
            "store: src/store/mod.rs uses ratatui, which its row forbids",
        ]
    );
    let tests_cut = without_test_module("a\n#[cfg(test)]\nmod tests {\n fn f() { x::y(); }\n}\nb");
    assert_eq!(tests_cut, "a\n\nb");
    assert!(!names("let r = libgit2::x();", "git2"));
    assert!(!names("crate::domain::git2::x", "git2"));
}
