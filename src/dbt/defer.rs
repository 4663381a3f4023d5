//! The environment slices defer to: after a passing merge check (or
//! `sliceboard dbt-state` on the base), the integration build's dbt
//! manifest and its DuckDB database (`SLICEBOARD_DBT_DB` of the check,
//! and any `*.duckdb` at the project's top) are copied into the state
//! folder (`.git/sliceboard/dbt-state/`).
//!
//! Each slice's own database starts as a copy of that snapshot, under the
//! same file name (`sliceboard.duckdb`), so dbt records the same database
//! name in every manifest: comparing a slice's project with the published
//! manifest (`state:modified+`) then selects what the slice changed and
//! what depends on it, not every node downstream of a source whose
//! database merely has another name; and everything it did not change,
//! seeds and the sources' tables included, is already in its database.
//!
//! The new snapshot is written beside the old one and swapped in by
//! renames, so a slice reading the old one keeps it until it is done.

use std::path::{Path, PathBuf};

/// Copies `project_dir`'s `target/manifest.json`, the database the build
/// wrote (`database`, when it exists) and the project's top-level
/// `*.duckdb` files into `dest`, replacing what was there; returns the
/// files copied. Refused when the project has no manifest.
pub fn publish(
    project_dir: &Path,
    database: Option<&Path>,
    dest: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    let manifest = project_dir.join("target").join("manifest.json");
    if !manifest.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} has no dbt manifest: dbt has not run there",
                project_dir.display()
            ),
        ));
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dbt-state".into());
    let fresh = parent.join(format!(".{name}.new"));
    let old = parent.join(format!(".{name}.old"));
    let _ = std::fs::remove_dir_all(&fresh);
    crate::os::private::create_dir(&fresh)?;
    let mut copied = vec![fresh.join("manifest.json")];
    copy_private(&manifest, &fresh.join("manifest.json"))?;
    if let Some(database) = database.filter(|d| d.is_file())
        && let Some(name) = database.file_name()
    {
        copy_private(database, &fresh.join(name))?;
        copied.push(fresh.join(name));
    }
    for entry in std::fs::read_dir(project_dir)?.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "duckdb") && path.is_file() {
            let to = fresh.join(entry.file_name());
            copy_private(&path, &to)?;
            copied.push(to);
        }
    }
    let _ = std::fs::remove_dir_all(&old);
    if dest.exists() {
        std::fs::rename(dest, &old)?;
    }
    std::fs::rename(&fresh, dest)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(copied
        .into_iter()
        .map(|p| dest.join(p.file_name().unwrap_or_default()))
        .collect())
}

/// Makes `to` a copy of the DuckDB file `from`: written beside it, then
/// renamed over it (a reader of the old one keeps it), in a private
/// folder created as needed.
pub fn copy_database(from: &Path, to: &Path) -> std::io::Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    crate::os::private::create_dir(dir)?;
    let fresh = dir.join(".copy.duckdb.new");
    copy_private(from, &fresh)?;
    std::fs::rename(&fresh, to)
}

/// Copies `from` to `to`, 0600 (a copy would take the source's mode).
fn copy_private(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut source = std::fs::File::open(from)?;
    let mut dest = crate::os::private::create(to)?;
    std::io::copy(&mut source, &mut dest)?;
    Ok(())
}
