//! Other log files a slice asks to follow (the plan's `logs` globs, e.g. an
//! orchestrator's task logs), tailed line by line across every file that
//! matches, including files that appear later.
//!
//! Globs are relative to the worktree. Only the folder before a glob's
//! first wildcard is listed (recursively only for `**`), so a pattern like
//! `logs/*.log` never walks the whole worktree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::tail::LogTail;

/// How many entries one poll may list under a `**` folder.
const MAX_LISTED: usize = 10_000;

pub struct LogFollower {
    root: PathBuf,
    set: GlobSet,
    /// The folders to list, and whether recursively.
    bases: Vec<(PathBuf, bool)>,
    tails: BTreeMap<PathBuf, LogTail>,
}

impl LogFollower {
    /// Follows `globs` under `root`; invalid globs are skipped (the plan
    /// file already rejects them).
    pub fn new(root: &Path, globs: &[String]) -> Self {
        let mut builder = GlobSetBuilder::new();
        let mut bases = Vec::new();
        for glob in globs {
            let Ok(parsed) = Glob::new(glob) else {
                continue;
            };
            builder.add(parsed);
            let literal: Vec<&str> = glob
                .split('/')
                .take_while(|part| !part.contains(['*', '?', '[', '{']))
                .collect();
            let is_whole = literal.len() == glob.split('/').count();
            let base = if is_whole {
                // A plain path: its folder.
                literal[..literal.len().saturating_sub(1)].join("/")
            } else {
                literal.join("/")
            };
            bases.push((root.join(base), glob.contains("**")));
        }
        Self {
            root: root.to_owned(),
            set: builder.build().unwrap_or_else(|_| GlobSet::empty()),
            bases,
            tails: BTreeMap::new(),
        }
    }

    /// The folders the globs list, for whoever watches them.
    pub fn folders(&self) -> impl Iterator<Item = &Path> {
        self.bases.iter().map(|(dir, _)| dir.as_path())
    }

    /// New complete lines from every matching file, each prefixed with the
    /// file's path relative to the worktree.
    pub fn poll(&mut self) -> Vec<String> {
        if self.bases.is_empty() {
            return Vec::new();
        }
        for file in self.matching_files() {
            self.tails
                .entry(file.clone())
                .or_insert_with(|| LogTail::new(&file));
        }
        let mut lines = Vec::new();
        for (path, tail) in &mut self.tails {
            let label = path
                .strip_prefix(&self.root)
                .unwrap_or(path)
                .display()
                .to_string();
            match tail.poll() {
                Ok(tailed) => {
                    if tailed.restarted {
                        lines.push(format!(
                            "{label}: (file truncated or replaced; reading it again)"
                        ));
                    }
                    lines.extend(tailed.lines.into_iter().map(|l| format!("{label}: {l}")));
                }
                Err(err) => lines.push(format!("{label}: unreadable ({err})")),
            }
        }
        lines
    }

    fn matching_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut listed = 0;
        for (base, recursive) in &self.bases {
            let mut stack = vec![base.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    listed += 1;
                    if listed > MAX_LISTED {
                        return found;
                    }
                    let path = entry.path();
                    let Ok(kind) = entry.file_type() else {
                        continue;
                    };
                    if kind.is_dir() {
                        if *recursive {
                            stack.push(path);
                        }
                    } else if path
                        .strip_prefix(&self.root)
                        .is_ok_and(|relative| self.set.is_match(relative))
                    {
                        found.push(path);
                    }
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_matching_files_including_ones_that_appear_later() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("logs/tasks")).unwrap();
        std::fs::write(root.join("logs/a.log"), "one\n").unwrap();
        std::fs::write(root.join("logs/ignored.txt"), "no\n").unwrap();
        let mut follower =
            LogFollower::new(root, &["logs/*.log".into(), "logs/tasks/**/*.log".into()]);
        assert_eq!(follower.poll(), ["logs/a.log: one"]);
        std::fs::write(root.join("logs/tasks/t1.log"), "task started\n").unwrap();
        std::fs::write(root.join("logs/a.log"), "one\ntwo\n").unwrap();
        assert_eq!(
            follower.poll(),
            ["logs/a.log: two", "logs/tasks/t1.log: task started"]
        );
        assert!(follower.poll().is_empty());
    }
}
