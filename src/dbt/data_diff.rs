//! What a merge does to the data: for each model a merge check built, its
//! row count and columns in the published integration build (before) and
//! in the check's build (after), read from the two DuckDB files.
//!
//! The models come from the check's own dbt run (its `run_results.json`,
//! only when the run started after the check did) and their relations
//! from its `target/manifest.json` (ephemeral models have none). DuckDB is
//! read through the Python that runs dbt (the `duckdb` module dbt-duckdb
//! brings, so the files are read by the DuckDB that wrote them): found
//! from `dbt` on the check's PATH, its `#!` line or the `python3` beside
//! it. Both files are attached read-only; nothing is written.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::Value;

use crate::domain::dbt_run::{NodeKind, NodeStatus};
use crate::domain::queue::ModelDelta;

/// Reads the facts of each relation named in the third argument (`[[schema,
/// name], …]`) in the database files given as the first two (`before`,
/// `after`; an empty path is a database that does not exist), and prints
/// `[{"before": {"rows": N, "columns": […]} | null, "after": …}, …]`.
const READER: &str = r#"
import json, sys
import duckdb
before, after = sys.argv[1], sys.argv[2]
relations = json.loads(sys.argv[3])
con = duckdb.connect(":memory:")
def attach(path, alias):
    if not path:
        return False
    con.execute("attach '" + path.replace("'", "''") + "' as " + alias + " (read_only)")
    return True
have = {"before_db": attach(before, "before_db"), "after_db": attach(after, "after_db")}
def quote(name):
    return '"' + name.replace('"', '""') + '"'
def facts(alias, schema, name):
    if not have[alias]:
        return None
    columns = [row[0] for row in con.execute(
        "select column_name from information_schema.columns"
        " where table_catalog = ? and table_schema = ? and table_name = ?"
        " order by ordinal_position", [alias, schema, name]).fetchall()]
    if not columns:
        return None
    rows = con.execute("select count(*) from " + ".".join(quote(p) for p in (alias, schema, name))).fetchone()[0]
    return {"rows": rows, "columns": columns}
print(json.dumps([{"before": facts("before_db", s, n), "after": facts("after_db", s, n)} for s, n in relations]))
"#;

/// The longest the databases are read for.
const READ_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Debug, Deserialize)]
struct Facts {
    rows: u64,
    columns: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Pair {
    before: Option<Facts>,
    after: Option<Facts>,
}

/// A model the check built and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Relation {
    model: String,
    schema: String,
    name: String,
}

/// The models the check's run in `project` built (a run that started at
/// `since` or later), with the rows and columns of each before (in
/// `before`, absent when nothing was published) and after (in `after`);
/// the changed ones, and how many did not change.
pub fn measure(
    project: &Path,
    before: &Path,
    after: &Path,
    since: jiff::Timestamp,
    path_var: Option<&OsStr>,
) -> Result<(Vec<ModelDelta>, usize), String> {
    let relations = built_relations(project, since)?;
    if relations.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let python = dbt_python(path_var).ok_or_else(|| {
        "dbt's Python (with its duckdb module) was not found: no `dbt` on the check's PATH"
            .to_owned()
    })?;
    let pairs = read_facts(&python, before, after, &relations)?;
    Ok(compare(&relations, pairs))
}

/// The relations of the models the project's last run built, when that
/// run started at `since` or later.
fn built_relations(project: &Path, since: jiff::Timestamp) -> Result<Vec<Relation>, String> {
    let run = crate::dbt::last_run(project)
        .ok_or_else(|| "the check did not run dbt in the project".to_owned())?;
    let started: Option<jiff::Timestamp> = run.started_at.as_deref().and_then(|t| t.parse().ok());
    // dbt writes its start to the millisecond; the check's is finer.
    let since = since
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap_or(since);
    if started.is_none_or(|s| s < since) {
        return Err("the check did not run dbt in the project".to_owned());
    }
    let built: Vec<&str> = run
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Model && n.status == NodeStatus::Success)
        .filter_map(|n| n.unique_id.as_deref())
        .collect();
    let manifest = project.join("target").join("manifest.json");
    let file =
        std::fs::File::open(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let manifest: Value = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    Ok(built
        .into_iter()
        .filter_map(|id| relation_of(&manifest["nodes"][id]))
        .collect())
}

/// A model node's relation (`None` for an ephemeral model, which has no
/// table).
fn relation_of(node: &Value) -> Option<Relation> {
    if node["config"]["materialized"].as_str() == Some("ephemeral") {
        return None;
    }
    let model = node["name"].as_str()?.to_owned();
    let name = node["alias"].as_str().unwrap_or(&model).to_owned();
    Some(Relation {
        schema: node["schema"].as_str()?.to_owned(),
        model,
        name,
    })
}

/// The Python that runs `dbt` on `path_var` (or this process's PATH): the
/// interpreter its `#!` line names, else `python3` beside it.
fn dbt_python(path_var: Option<&OsStr>) -> Option<PathBuf> {
    let path_var = path_var
        .map(OsStr::to_owned)
        .or_else(|| std::env::var_os("PATH"))?;
    let dbt = std::env::split_paths(&path_var)
        .map(|dir| dir.join("dbt"))
        .find(|p| p.is_file())?;
    let text = std::fs::read(&dbt).ok()?;
    let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let shebang = String::from_utf8_lossy(first);
    if let Some(line) = shebang.strip_prefix("#!") {
        let mut words = line.split_whitespace();
        let program = words.next().unwrap_or_default();
        let program = if Path::new(program).file_name() == Some(OsStr::new("env")) {
            words.next().unwrap_or_default()
        } else {
            program
        };
        if Path::new(program).is_absolute() && Path::new(program).is_file() {
            return Some(program.into());
        }
        if !program.is_empty() && !program.contains('/') {
            return Some(program.into());
        }
    }
    let beside = dbt.parent()?.join("python3");
    beside.is_file().then_some(beside)
}

fn read_facts(
    python: &Path,
    before: &Path,
    after: &Path,
    relations: &[Relation],
) -> Result<Vec<Pair>, String> {
    let existing = |p: &Path| {
        if p.is_file() {
            p.to_string_lossy().into_owned()
        } else {
            String::new()
        }
    };
    let asked: Vec<[&str; 2]> = relations
        .iter()
        .map(|r| [r.schema.as_str(), r.name.as_str()])
        .collect();
    let asked = serde_json::to_string(&asked).map_err(|e| e.to_string())?;
    // Through the process registry: the supervisor reaps children, and
    // only a registered one is left for us to wait for.
    let output = crate::os::process_group::output_within(
        Command::new(python)
            .args(["-c", READER, &existing(before), &existing(after), &asked])
            .stdin(Stdio::null()),
        READ_LIMIT,
    )
    .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let last = said
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("reading the databases failed: {}", last.trim()));
    }
    let pairs: Vec<Pair> = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("the database reader said something unexpected: {e}"))?;
    if pairs.len() != relations.len() {
        return Err("the database reader skipped models".to_owned());
    }
    Ok(pairs)
}

/// The models whose rows or columns differ, in build order, and how many
/// did not.
fn compare(relations: &[Relation], pairs: Vec<Pair>) -> (Vec<ModelDelta>, usize) {
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for (relation, pair) in relations.iter().zip(pairs) {
        let columns = |f: &Option<Facts>| -> Vec<String> {
            f.as_ref().map(|f| f.columns.clone()).unwrap_or_default()
        };
        let before_columns = columns(&pair.before);
        let after_columns = columns(&pair.after);
        let before_set: BTreeSet<&String> = before_columns.iter().collect();
        let after_set: BTreeSet<&String> = after_columns.iter().collect();
        let delta = ModelDelta {
            model: relation.model.clone(),
            rows_before: pair.before.as_ref().map(|f| f.rows),
            rows_after: pair.after.as_ref().map(|f| f.rows),
            added: after_columns
                .iter()
                .filter(|c| !before_set.contains(c))
                .cloned()
                .collect(),
            removed: before_columns
                .iter()
                .filter(|c| !after_set.contains(c))
                .cloned()
                .collect(),
        };
        let same = delta.rows_before == delta.rows_after
            && delta.added.is_empty()
            && delta.removed.is_empty();
        if same {
            unchanged += 1;
        } else {
            changed.push(delta);
        }
    }
    (changed, unchanged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(rows: u64, columns: &[&str]) -> Option<Facts> {
        Some(Facts {
            rows,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        })
    }

    fn relation(model: &str) -> Relation {
        Relation {
            model: model.into(),
            schema: "main".into(),
            name: model.into(),
        }
    }

    #[test]
    fn compares_rows_and_columns_and_counts_the_unchanged() {
        let relations = [relation("a"), relation("b"), relation("c")];
        let pairs = vec![
            Pair {
                before: facts(12, &["part", "last_id"]),
                after: facts(10, &["part", "v"]),
            },
            Pair {
                before: facts(3, &["x"]),
                after: facts(3, &["x"]),
            },
            Pair {
                before: None,
                after: facts(4, &["y"]),
            },
        ];
        let (changed, unchanged) = compare(&relations, pairs);
        assert_eq!(unchanged, 1);
        assert_eq!(
            changed[0].describe(),
            "a: 12 → 10 rows (−2); added v; removed last_id"
        );
        assert_eq!(changed[1].describe(), "c: new, 4 rows");
        let diff = crate::domain::queue::DataDiff {
            attempt: 1,
            models: changed,
            unchanged,
            unavailable: None,
        };
        assert_eq!(diff.removed_columns(), ["a.last_id"]);
        assert_eq!(diff.lines().last().unwrap(), "1 more built with no change");
    }

    #[test]
    fn finds_the_python_that_runs_dbt() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let python = bin.join("python3");
        std::fs::write(&python, "").unwrap();
        std::fs::write(
            bin.join("dbt"),
            format!("#!{}\nimport sys\n", python.display()),
        )
        .unwrap();
        assert_eq!(dbt_python(Some(bin.as_os_str())), Some(python.clone()));
        std::fs::write(bin.join("dbt"), "#!/usr/bin/env python3.11\n").unwrap();
        assert_eq!(
            dbt_python(Some(bin.as_os_str())),
            Some(PathBuf::from("python3.11"))
        );
        std::fs::write(bin.join("dbt"), "\u{7f}ELF").unwrap();
        assert_eq!(dbt_python(Some(bin.as_os_str())), Some(python));
        assert_eq!(dbt_python(Some(dir.path().as_os_str())), None);
    }

    #[test]
    fn an_ephemeral_model_has_no_relation() {
        let node: Value = serde_json::json!({
            "name": "m", "schema": "s", "alias": "m_alias", "config": {"materialized": "ephemeral"}
        });
        assert_eq!(relation_of(&node), None);
        let node: Value = serde_json::json!({
            "name": "m", "schema": "s", "alias": "m_alias", "config": {"materialized": "table"}
        });
        assert_eq!(
            relation_of(&node),
            Some(Relation {
                model: "m".into(),
                schema: "s".into(),
                name: "m_alias".into()
            })
        );
    }
}
