//! Following what a slice's agents wrote about their usage, incrementally:
//! Claude Code's session transcripts (`<config>/projects/<worktree as a
//! folder name>/*.jsonl`) and Codex's rollouts (`<codex home>/sessions/
//! YYYY/MM/DD/rollout-*.jsonl` whose first line names the worktree).
//!
//! Each file is read from where the last read stopped; a file that got
//! shorter or was replaced is read again from its start (its old share
//! dropped). Nothing is read when nothing grew: a poll is a folder listing
//! and a `stat` per file.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::domain::usage::{
    ClaudeLine, CodexLine, ContextFill, Usage, claude_line, claude_project_folder, codex_line,
    context_window,
};

/// The largest piece of a file read at once.
const CHUNK: usize = 1 << 20;

/// Where one slice's agents write their usage, and what was read so far.
#[derive(Debug)]
pub struct UsageFiles {
    claude: Option<PathBuf>,
    codex: Option<PathBuf>,
    /// The worktree's canonical path, as Codex records it.
    cwd: String,
    /// Rollouts last changed before this are not the slice's.
    since: SystemTime,
    files: BTreeMap<PathBuf, Followed>,
}

#[derive(Debug)]
struct Followed {
    kind: Kind,
    inode: u64,
    offset: u64,
    /// The end of a line not yet complete.
    partial: Vec<u8>,
    usage: Usage,
    /// Claude: message ids counted (a message spans several lines).
    seen: HashSet<String>,
    /// Codex: the model of the turns being read.
    model: String,
    /// Codex: whether its first line names the worktree (`None`: not read).
    ours: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Claude,
    Codex,
}

impl UsageFiles {
    /// The files of the agents run in `worktree`; `env` is the agents'
    /// environment (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `HOME`); rollouts
    /// from before `since` are left alone.
    pub fn new(worktree: &Path, env: &dyn Fn(&str) -> Option<String>, since: SystemTime) -> Self {
        let home = env("HOME").map(PathBuf::from);
        let claude = env("CLAUDE_CONFIG_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".claude")));
        let codex = env("CODEX_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".codex")));
        let cwd = worktree
            .canonicalize()
            .unwrap_or_else(|_| worktree.to_owned())
            .to_string_lossy()
            .into_owned();
        UsageFiles {
            claude: claude.map(|c| c.join("projects").join(claude_project_folder(&cwd))),
            codex: codex.map(|c| c.join("sessions")),
            cwd,
            since,
            files: BTreeMap::new(),
        }
    }

    /// Reads what the files added since the last poll; true when the usage
    /// changed.
    pub fn poll(&mut self) -> bool {
        let mut found: Vec<(PathBuf, Kind)> = Vec::new();
        if let Some(dir) = &self.claude {
            found.extend(jsonl_in(dir).into_iter().map(|p| (p, Kind::Claude)));
        }
        if let Some(dir) = &self.codex {
            for day in days_since(self.since) {
                found.extend(
                    jsonl_in(&dir.join(&day))
                        .into_iter()
                        .filter(|p| {
                            p.file_name()
                                .is_some_and(|n| n.to_string_lossy().starts_with("rollout-"))
                        })
                        .map(|p| (p, Kind::Codex)),
                );
            }
        }
        let mut changed = false;
        for (path, kind) in found {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if kind == Kind::Codex
                && !self.files.contains_key(&path)
                && meta.modified().is_ok_and(|m| m < self.since)
            {
                continue;
            }
            let followed = self
                .files
                .entry(path.clone())
                .or_insert_with(|| Followed::new(kind, meta.ino()));
            if followed.ours == Some(false) {
                continue;
            }
            // Shorter or replaced: read again from the start.
            if meta.ino() != followed.inode || meta.len() < followed.offset {
                *followed = Followed::new(kind, meta.ino());
                changed = true;
            }
            if meta.len() > followed.offset {
                changed |= followed.read(&path, &self.cwd);
            }
        }
        changed
    }

    /// Everything read so far, summed over the files (the context is the
    /// most recently written file's).
    pub fn usage(&self) -> Usage {
        let mut total = Usage::default();
        let mut newest: Option<(SystemTime, ContextFill)> = None;
        for (path, followed) in &self.files {
            if followed.ours == Some(false) {
                continue;
            }
            let mut usage = followed.usage.clone();
            if let Some(context) = usage.context.take() {
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                if newest.is_none_or(|(at, _)| modified >= at) {
                    newest = Some((modified, context));
                }
            }
            total.add(&usage);
        }
        total.context = newest.map(|(_, c)| c);
        total
    }
}

impl Followed {
    /// A file not read yet.
    fn new(kind: Kind, inode: u64) -> Self {
        Followed {
            kind,
            inode,
            offset: 0,
            partial: Vec::new(),
            usage: Usage::default(),
            seen: HashSet::new(),
            model: String::new(),
            ours: None,
        }
    }

    /// Reads from `offset` to the end; true when the usage changed.
    fn read(&mut self, path: &Path, cwd: &str) -> bool {
        let Ok(mut file) = std::fs::File::open(path) else {
            return false;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return false;
        }
        let mut changed = false;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = match file.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            self.offset += n as u64;
            self.partial.extend_from_slice(&buffer[..n]);
            let complete = match self.partial.iter().rposition(|b| *b == b'\n') {
                Some(at) => at + 1,
                None => continue,
            };
            let lines: Vec<u8> = self.partial.drain(..complete).collect();
            for line in String::from_utf8_lossy(&lines).lines() {
                changed |= self.line(line, cwd);
                if self.ours == Some(false) {
                    return changed;
                }
            }
        }
        changed
    }

    fn line(&mut self, line: &str, cwd: &str) -> bool {
        match self.kind {
            Kind::Claude => match claude_line(line) {
                Some(ClaudeLine::Assistant {
                    id,
                    model,
                    tokens,
                    context,
                }) => {
                    if !self.seen.insert(id) {
                        return false;
                    }
                    self.usage
                        .by_model
                        .entry(model.clone())
                        .or_default()
                        .add(&tokens);
                    self.usage.context = Some(ContextFill {
                        used: context,
                        window: context_window(&model),
                    });
                    true
                }
                Some(ClaudeLine::Compacted) => {
                    self.usage.compactions += 1;
                    true
                }
                None => false,
            },
            Kind::Codex => match codex_line(line) {
                Some(CodexLine::Meta { cwd: theirs }) => {
                    let ours = Path::new(&theirs)
                        .canonicalize()
                        .map_or(theirs.clone(), |p| p.to_string_lossy().into_owned())
                        == cwd;
                    self.ours = Some(ours);
                    false
                }
                Some(CodexLine::Model(model)) => {
                    self.model = model;
                    false
                }
                // Cumulative: the session's usage is its last count.
                Some(CodexLine::Total { tokens, context }) => {
                    self.usage.by_model = BTreeMap::from([(self.model.clone(), tokens)]);
                    if context.is_some() {
                        self.usage.context = context;
                    }
                    true
                }
                Some(CodexLine::Compacted) => {
                    self.usage.compactions += 1;
                    true
                }
                None => false,
            },
        }
    }
}

/// The `*.jsonl` files of a folder (none when it does not exist).
fn jsonl_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect()
}

/// Codex's day folders (`YYYY/MM/DD`, local time) from a day before
/// `since` to a day after today.
fn days_since(since: SystemTime) -> Vec<String> {
    let now = jiff::ZonedDateTime::now();
    let start = jiff::Timestamp::try_from(since)
        .map(|t| t.to_zoned_datetime(now.time_zone().clone()))
        .unwrap_or_else(|_| now.clone());
    let mut day = start.date().yesterday().unwrap_or(start.date());
    let last = now.date().tomorrow().unwrap_or(now.date());
    let mut days = Vec::new();
    while day <= last && days.len() < 400 {
        days.push(format!(
            "{:04}/{:02}/{:02}",
            day.year(),
            day.month(),
            day.day()
        ));
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn env_of(home: &Path) -> impl Fn(&str) -> Option<String> + '_ {
        move |key| (key == "HOME").then(|| home.to_string_lossy().into_owned())
    }

    fn assistant(id: &str, input: u64, output: u64, cache_read: u64) -> String {
        format!(
            "{{\"type\":\"assistant\",\"message\":{{\"id\":\"{id}\",\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":{cache_read},\"output_tokens\":{output}}}}}}}\n"
        )
    }

    #[test]
    fn a_claude_transcript_is_summed_as_it_grows_and_again_when_rewritten() {
        let home = tempfile::tempdir().unwrap();
        let worktree = tempfile::tempdir().unwrap();
        let cwd = worktree.path().canonicalize().unwrap();
        let dir = home
            .path()
            .join(".claude/projects")
            .join(claude_project_folder(&cwd.to_string_lossy()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = env_of(home.path());
        let mut files = UsageFiles::new(worktree.path(), &env, SystemTime::now());
        assert!(!files.poll());
        let path = dir.join("session-1.jsonl");
        let mut file = std::fs::File::create(&path).unwrap();
        // One message over two lines (two content blocks), then half a line.
        file.write_all(assistant("m1", 10, 100, 1000).as_bytes())
            .unwrap();
        file.write_all(assistant("m1", 10, 100, 1000).as_bytes())
            .unwrap();
        let second = assistant("m2", 20, 200, 3000);
        file.write_all(&second.as_bytes()[..30]).unwrap();
        file.flush().unwrap();
        assert!(files.poll());
        let tokens = files.usage().tokens();
        assert_eq!(
            (tokens.input, tokens.output, tokens.cache_read),
            (10, 100, 1000)
        );
        // The rest of the line arrives.
        file.write_all(&second.as_bytes()[30..]).unwrap();
        file.write_all(b"{\"type\":\"system\",\"subtype\":\"compact_boundary\"}\n")
            .unwrap();
        file.flush().unwrap();
        assert!(files.poll());
        let usage = files.usage();
        assert_eq!(usage.tokens().total(), 30 + 300 + 4000);
        assert_eq!(usage.compactions, 1);
        assert_eq!(
            usage.context,
            Some(ContextFill {
                used: 3020,
                window: 200_000
            })
        );
        assert!(!files.poll());
        // Rewritten shorter: counted again from its start, nothing twice.
        std::fs::write(&path, assistant("m9", 1, 2, 3)).unwrap();
        assert!(files.poll());
        assert_eq!(files.usage().tokens().total(), 6);
        // A second session (a subagent, a resume) adds up.
        std::fs::write(dir.join("session-2.jsonl"), assistant("m10", 4, 0, 0)).unwrap();
        files.poll();
        assert_eq!(files.usage().tokens().total(), 10);
    }

    #[test]
    fn a_codex_rollout_counts_only_when_it_ran_in_the_worktree() {
        let home = tempfile::tempdir().unwrap();
        let worktree = tempfile::tempdir().unwrap();
        let cwd = worktree.path().canonicalize().unwrap();
        let today = jiff::ZonedDateTime::now().date();
        let day = home.path().join(format!(
            ".codex/sessions/{:04}/{:02}/{:02}",
            today.year(),
            today.month(),
            today.day()
        ));
        std::fs::create_dir_all(&day).unwrap();
        let rollout = |cwd: &str, input: u64| {
            format!(
                "{{\"timestamp\":\"t\",\"type\":\"session_meta\",\"payload\":{{\"id\":\"s\",\"cwd\":\"{cwd}\"}}}}\n\
                 {{\"timestamp\":\"t\",\"type\":\"turn_context\",\"payload\":{{\"model\":\"gpt-5-codex\"}}}}\n\
                 {{\"timestamp\":\"t\",\"type\":\"event_msg\",\"payload\":{{\"type\":\"token_count\",\"info\":{{\"total_token_usage\":{{\"input_tokens\":{input},\"cached_input_tokens\":0,\"output_tokens\":5}},\"last_token_usage\":{{\"input_tokens\":{input}}},\"model_context_window\":272000}}}}}}\n"
            )
        };
        let since = SystemTime::now() - std::time::Duration::from_secs(5);
        std::fs::write(
            day.join("rollout-a.jsonl"),
            rollout(&cwd.to_string_lossy(), 100),
        )
        .unwrap();
        std::fs::write(
            day.join("rollout-b.jsonl"),
            rollout("/somewhere/else", 9_999),
        )
        .unwrap();
        let env = env_of(home.path());
        let mut files = UsageFiles::new(worktree.path(), &env, since);
        assert!(files.poll());
        let usage = files.usage();
        assert_eq!(usage.tokens().total(), 105);
        assert_eq!(usage.by_model.keys().collect::<Vec<_>>(), ["gpt-5-codex"]);
        // A later count replaces the earlier one (the totals are cumulative).
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(day.join("rollout-a.jsonl"))
            .unwrap();
        file.write_all(b"{\"timestamp\":\"t\",\"type\":\"event_msg\",\"payload\":{\"type\":\"token_count\",\"info\":{\"total_token_usage\":{\"input_tokens\":300,\"cached_input_tokens\":100,\"output_tokens\":50},\"last_token_usage\":{\"input_tokens\":200},\"model_context_window\":272000}}}\n").unwrap();
        assert!(files.poll());
        let usage = files.usage();
        assert_eq!(usage.tokens().total(), 350);
        assert_eq!(usage.context.unwrap().used, 200);
    }
}
