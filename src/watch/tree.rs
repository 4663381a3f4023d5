//! Which folders of a worktree to watch: every folder git would look at,
//! none of those it ignores, and none of the usual build and tool folders
//! (`dbt compile` alone writes thousands of files into `target/`).

use std::path::{Path, PathBuf};

use crate::domain::diff::{SKIPPED_DIRS, in_skipped_dir};

/// Whether a path relative to the worktree lies in a skipped folder.
pub fn is_skipped(relative: &Path) -> bool {
    in_skipped_dir(&relative.to_string_lossy())
}

/// `from` and every folder under it that is neither skipped nor ignored
/// by the worktree's .gitignore files and `info/exclude`.
pub fn folders(from: &Path) -> Vec<PathBuf> {
    let mut walk = ignore::WalkBuilder::new(from);
    walk.hidden(false)
        .parents(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .ignore(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| {
            entry.file_type().is_some_and(|t| t.is_dir())
                && !SKIPPED_DIRS.iter().any(|s| entry.file_name() == *s)
        });
    walk.build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_dir()))
        .map(ignore::DirEntry::into_path)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_and_skipped_folders_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for folder in [
            "models/staging",
            "target/compiled",
            "build/out",
            ".venv/lib",
            "seeds",
        ] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
        let mut found: Vec<String> = folders(root)
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        found.sort();
        assert_eq!(found, ["", "models", "models/staging", "seeds"]);
        assert!(is_skipped(Path::new("models/target/x.sql")));
        assert!(!is_skipped(Path::new("models/targets.sql")));
    }
}
