//! A slice's dbt runs, read from the files dbt itself writes in the
//! slice's worktree: `logs/dbt.log` (JSON lines or the default text) as it
//! grows, and `target/run_results.json` when a run ends.
//!
//! Owns parsing and following those files; knows nothing of git, PTYs or
//! the screen. Never writes into the worktree. Bad input (garbage, a
//! truncated line, a file deleted mid-run, fields a newer dbt adds) is
//! counted or reported, never fatal.

pub mod extra_logs;
pub mod json_log;
pub mod run_results;
pub mod tail;
pub mod text_log;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::domain::dbt_run::{DbtRun, RunStatus};

pub use json_log::JsonLogReader;
pub use tail::LogTail;
pub use text_log::TextLogReader;

/// Follows one dbt project's log and results.
#[derive(Debug)]
pub struct DbtWatch {
    project_dir: PathBuf,
    log: LogTail,
    json: JsonLogReader,
    text: TextLogReader,
    /// Whether the newest run seen in the log came from the JSON format.
    newest_is_json: bool,
    results_modified: Option<SystemTime>,
    results: Option<DbtRun>,
    /// Why the last file could not be read, for the dbt tab.
    pub problem: Option<String>,
    /// The log as a person reads it, since the last `take_log_lines`.
    human: Vec<String>,
}

impl DbtWatch {
    pub fn new(project_dir: &Path) -> Self {
        Self {
            project_dir: project_dir.to_owned(),
            log: LogTail::new(&project_dir.join("logs").join("dbt.log")),
            json: JsonLogReader::new(),
            text: TextLogReader::new(),
            newest_is_json: true,
            results_modified: None,
            results: None,
            problem: None,
            human: Vec::new(),
        }
    }

    pub fn project_dir(&self) -> &Path {
        &self.project_dir
    }

    pub fn log_path(&self) -> &Path {
        self.log.path()
    }

    /// Reads whatever changed; returns whether anything did.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        loop {
            let tailed = match self.log.poll() {
                Ok(tailed) => tailed,
                Err(err) => {
                    self.problem =
                        Some(format!("cannot read {}: {err}", self.log.path().display()));
                    break;
                }
            };
            if tailed.restarted {
                self.json = JsonLogReader::new();
                self.text = TextLogReader::new();
                changed = true;
            }
            changed |= !tailed.lines.is_empty();
            for line in &tailed.lines {
                self.feed_line(line);
            }
            if !tailed.more {
                break;
            }
        }
        changed | self.poll_results()
    }

    /// The log lines read since the last call, as a person reads them:
    /// the message of each JSON line with its time, text lines without
    /// colors.
    pub fn take_log_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.human)
    }

    fn feed_line(&mut self, line: &str) {
        self.human.push(human_line(line));
        if self.human.len() > MAX_HUMAN_LINES {
            self.human.drain(..self.human.len() - MAX_HUMAN_LINES);
        }
        if line.trim_start().starts_with('{') {
            let before = self.json.runs().len();
            self.json.feed_line(line);
            if self.json.runs().len() > before {
                self.newest_is_json = true;
            }
        } else {
            let before = self.text.runs().len();
            self.text.feed_line(line);
            if self.text.runs().len() > before {
                self.newest_is_json = false;
            }
        }
    }

    fn poll_results(&mut self) -> bool {
        let path = self.project_dir.join("target").join("run_results.json");
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if modified == self.results_modified {
            return false;
        }
        self.results_modified = modified;
        self.results = None;
        if modified.is_some() {
            match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| run_results::parse(&text).map_err(|e| e.to_string()))
            {
                Ok(run) => self.results = Some(run),
                // dbt may be halfway through writing it; the next poll retries.
                Err(err) => self.problem = Some(format!("{}: {err}", path.display())),
            }
        }
        true
    }

    /// Every run the log holds, oldest first.
    pub fn log_runs(&self) -> &[DbtRun] {
        if self.newest_is_json {
            self.json.runs()
        } else {
            self.text.runs()
        }
    }

    /// The current or last run: from the log when it has one (it is live
    /// and carries compiled paths), completed by run_results.json for the
    /// same invocation; from run_results.json alone when the log is gone.
    pub fn last_run(&self) -> Option<DbtRun> {
        let from_log = self.log_runs().last().cloned();
        match (from_log, &self.results) {
            (Some(mut run), Some(results)) if run.invocation_id == results.invocation_id => {
                if run.status == RunStatus::Running {
                    run.status = results.status;
                    run.elapsed_seconds = results.elapsed_seconds;
                }
                run.target = run.target.or_else(|| results.target.clone());
                Some(run)
            }
            (Some(run), _) => Some(run),
            (None, results) => results.clone(),
        }
    }
}

/// How many unread human lines are kept between two takes.
const MAX_HUMAN_LINES: usize = 5_000;

pub fn human_line(line: &str) -> String {
    let text = if line.trim_start().starts_with('{') {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(event) => {
                let info = &event["info"];
                let time = info["ts"]
                    .as_str()
                    .and_then(|ts| ts.get(11..19))
                    .unwrap_or("");
                format!("{time} {}", info["msg"].as_str().unwrap_or_default())
            }
            Err(_) => format!("(unreadable line) {line}"),
        }
    } else {
        line.to_owned()
    };
    // No escape sequence from a log reaches the screen.
    strip_ansi(&text)
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out
}

/// The last run of the dbt project in `project_dir`, read once.
pub fn last_run(project_dir: &Path) -> Option<DbtRun> {
    let mut watch = DbtWatch::new(project_dir);
    watch.poll();
    watch.last_run()
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::domain::dbt_run::{DbtRun, NodeKind, NodeStatus};

    /// What the recorded build of tests/fixtures/dbt_project did, per node
    /// in run order; the JSON and the text log must both say so.
    pub(crate) const RECORDED_BUILD: [(&str, NodeKind, NodeStatus); 7] = [
        ("orders", NodeKind::Seed, NodeStatus::Success),
        ("broken_totals", NodeKind::Model, NodeStatus::Error),
        ("stg_orders", NodeKind::Model, NodeStatus::Success),
        ("customer_report", NodeKind::Model, NodeStatus::Skipped),
        (
            "not_null_stg_orders_customer",
            NodeKind::Test,
            NodeStatus::Fail,
        ),
        ("not_null_stg_orders_id", NodeKind::Test, NodeStatus::Pass),
        ("unique_stg_orders_id", NodeKind::Test, NodeStatus::Pass),
    ];

    #[test]
    fn log_lines_read_as_a_person_would_without_escapes() {
        let json = r#"{"info": {"ts": "2026-11-24T13:26:36.609041Z", "msg": "\u001b[31mCompleted with 2 errors\u001b[0m"}, "data": {}}"#;
        assert_eq!(super::human_line(json), "13:26:36 Completed with 2 errors");
        let text = "\u{1b}[0m13:26:50.501606 [info ] [MainThread]: Done. PASS=4\u{7}";
        assert_eq!(
            super::human_line(text),
            "13:26:50.501606 [info ] [MainThread]: Done. PASS=4"
        );
        assert!(super::human_line("{broken").starts_with("(unreadable line)"));
    }

    pub(crate) fn summary(run: &DbtRun) -> Vec<(&str, NodeKind, NodeStatus)> {
        run.nodes
            .iter()
            .map(|n| (n.name.as_str(), n.kind, n.status))
            .collect()
    }
}
