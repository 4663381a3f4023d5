//! A slice's dbt runs, read from the files dbt itself writes in the
//! slice's worktree: `logs/dbt.log` (JSON lines or the default text) as it
//! grows, and `target/run_results.json` when a run ends.
//!
//! Owns parsing and following those files; knows nothing of git, PTYs or
//! the screen. Never writes into the worktree. Bad input (garbage, a
//! truncated line, a file deleted mid-run, fields a newer dbt adds) is
//! counted or reported, never fatal.

pub mod data_diff;
pub mod defer;
pub mod extra_logs;
pub mod json_log;
pub mod models;
pub mod run_results;
pub mod tail;
pub mod text_log;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::domain::dbt_run::{DbtRun, NodeResult, RunStatus};

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
    /// The newest run is in progress but its dbt process is gone.
    gone: bool,
    /// The project's folder relative to the repository root ("" when it
    /// is the root), to name nodes' files as the plan's globs do.
    prefix: PathBuf,
    manifest_modified: Option<SystemTime>,
    /// unique_id → the node's file, relative to the project.
    files: HashMap<String, String>,
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
            gone: false,
            prefix: PathBuf::new(),
            manifest_modified: None,
            files: HashMap::new(),
            human: Vec::new(),
        }
    }

    /// Names nodes' files from the repository root: `prefix` is the
    /// project's folder inside the worktree (the plan's `dbt.project_dir`).
    pub fn with_prefix(mut self, prefix: &Path) -> Self {
        self.prefix = prefix
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        self
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
            // A rotated log goes on where it was; only a log started
            // afresh (truncated, replaced, deleted) drops what was read.
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
        changed |= self.poll_results();
        changed |= self.poll_manifest();
        // A run whose dbt process is gone will never finish: aborted.
        let gone = self.newest_result_run().is_some_and(|run| {
            run.status == RunStatus::Running && run.pid.is_some_and(|pid| !dbt_alive(pid))
        });
        changed |= gone != self.gone;
        self.gone = gone;
        changed
    }

    /// The log lines read since the last call, as a person reads them:
    /// the message of each JSON line with its time, text lines without
    /// colors.
    pub fn take_log_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.human)
    }

    fn feed_line(&mut self, line: &str) {
        // A multi-line message (an error with DuckDB's `^^^` pointer) stays
        // multi-line, its later lines indented under the first.
        let human = human_line(line);
        let mut parts = human.split('\n');
        if let Some(first) = parts.next() {
            self.human.push(first.to_owned());
        }
        self.human.extend(parts.map(|part| format!("    {part}")));
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

    /// dbt's manifest, read again when it changed: each node's own file.
    fn poll_manifest(&mut self) -> bool {
        let path = self.project_dir.join("target").join("manifest.json");
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if modified == self.manifest_modified {
            return false;
        }
        self.manifest_modified = modified;
        // Half-written or missing: the files stay as they were.
        if let Some(files) = std::fs::File::open(&path)
            .ok()
            .and_then(|file| read_manifest_files(std::io::BufReader::new(file)))
        {
            self.files = files;
        }
        true
    }

    /// The newest run in the log that is a result (not `deps`, `parse`…).
    fn newest_result_run(&self) -> Option<&DbtRun> {
        self.log_runs().iter().rev().find(|run| run.is_result())
    }

    /// The current or last run that is a result of the slice's models:
    /// from the log when it has one (it is live and carries compiled
    /// paths), completed by run_results.json for the same invocation
    /// (which holds every node even when the log rotated before it was
    /// read); from run_results.json alone when the log is gone. A run in
    /// progress whose dbt process is gone is `aborted`.
    pub fn last_run(&self) -> Option<DbtRun> {
        let from_log = self.newest_result_run().cloned();
        let results = self.results.as_ref().filter(|r| r.is_result());
        let mut run = match (from_log, results) {
            (Some(run), Some(results)) if run.invocation_id == results.invocation_id => {
                Some(reconcile(run, results))
            }
            (Some(run), _) => Some(run),
            (None, results) => results.cloned(),
        }?;
        if self.gone && run.status == RunStatus::Running {
            run.status = RunStatus::Aborted;
            run.pid = None;
        }
        for node in &mut run.nodes {
            if let Some(file) = node.unique_id.as_ref().and_then(|id| self.files.get(id)) {
                node.file = Some(self.prefix.join(file).to_string_lossy().into_owned());
            }
        }
        Some(run)
    }
}

/// A run read from the log, completed by run_results.json of the same
/// invocation: its status and time when the log did not finish, and every
/// node the results hold (the log may have lost some to rotation), with
/// the log's messages and compiled paths kept where the results lack them.
fn reconcile(mut run: DbtRun, results: &DbtRun) -> DbtRun {
    if run.status == RunStatus::Running {
        run.status = results.status;
        run.elapsed_seconds = results.elapsed_seconds;
        run.pid = None;
    }
    // The invocation's real start: the log read afresh after a rotation
    // starts where its current file does.
    run.started_at = results.started_at.clone().or(run.started_at);
    // What dbt selected, when the log's line saying so rotated away: every
    // node of a finished run has a result.
    if run.selected.is_none() && !matches!(run.status, RunStatus::Interrupted | RunStatus::Aborted)
    {
        run.selected = Some(results.nodes.len());
    }
    run.target = run.target.or_else(|| results.target.clone());
    run.command = run.command.or_else(|| results.command.clone());
    run.invocation = run.invocation.or_else(|| results.invocation.clone());
    // Text logs carry no unique ids: a node is then known by its name.
    let same = |a: &NodeResult, b: &NodeResult| match (&a.unique_id, &b.unique_id) {
        (Some(x), Some(y)) => x == y,
        _ => a.name == b.name,
    };
    let mut nodes = Vec::with_capacity(results.nodes.len().max(run.nodes.len()));
    for result in &results.nodes {
        let logged = run.nodes.iter().find(|n| same(n, result));
        let mut node = result.clone();
        if let Some(logged) = logged {
            node.message = node.message.or_else(|| logged.message.clone());
            node.compiled_path = node.compiled_path.or_else(|| logged.compiled_path.clone());
        }
        nodes.push(node);
    }
    // Nodes the log saw that the results do not hold (still running).
    nodes.extend(
        run.nodes
            .iter()
            .filter(|n| !results.nodes.iter().any(|r| same(n, r)))
            .cloned(),
    );
    run.nodes = nodes;
    run
}

/// unique_id → `original_file_path` of every node in a dbt manifest.
fn read_manifest_files(reader: impl std::io::Read) -> Option<HashMap<String, String>> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(default)]
        nodes: HashMap<String, Node>,
        #[serde(default)]
        unit_tests: HashMap<String, Node>,
    }
    #[derive(serde::Deserialize)]
    struct Node {
        original_file_path: Option<String>,
    }
    let manifest: Manifest = serde_json::from_reader(reader).ok()?;
    Some(
        manifest
            .nodes
            .into_iter()
            .chain(manifest.unit_tests)
            .filter_map(|(id, node)| Some((id, node.original_file_path?)))
            .collect(),
    )
}

/// Whether `pid` is a live dbt process (a reused pid running something
/// else does not count).
fn dbt_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.windows(3).any(|w| w == b"dbt"))
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

/// `text` without escape sequences or control characters (tabs and line
/// ends kept).
pub(crate) fn strip_ansi(text: &str) -> String {
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
        } else if !c.is_control() || c == '\t' || c == '\n' {
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
