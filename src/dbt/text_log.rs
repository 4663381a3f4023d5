//! dbt's default text log: every invocation appended after a banner of `=`
//! signs with its invocation id, lines prefixed with time, level and
//! thread, and ANSI colors. Read for runs made without
//! `DBT_LOG_FORMAT_FILE=json`; it carries less than the JSON log (no
//! unique ids, no rows affected), so the JSON log is preferred.

use std::sync::LazyLock;

use regex::Regex;

use crate::domain::dbt_run::{DbtRun, NodeKind, NodeResult, NodeStatus, RunSource, RunStatus};

static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").expect("the pattern is valid"));
static BANNER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^=+ (\S+) \| ([0-9a-f-]+) =+$").expect("the pattern is valid"));
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{2}:\d{2}:\d{2}(?:\.\d+)? +\[[a-z ]+\] \[[^\]]*\]: ?(.*)$")
        .expect("the pattern is valid")
});
static RESULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\d+ of \d+ (START|OK|ERROR|FAIL|PASS|WARN|SKIP)(?: \d+)? (.*?) \.+ \[(.*?)(?: in ([\d.]+)s)?\]$",
    ).expect("the pattern is valid")
});
static INVOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"'invocation_command': '([^']*)'").expect("the pattern is valid"));
static DONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^Done\. PASS=\d+ WARN=\d+ ERROR=(\d+)").expect("the pattern is valid")
});
static FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Failure|Warning|(?:\w+ )?Error) in (?:model|test|seed|snapshot) (\S+)")
        .expect("the pattern is valid")
});
static COMPILED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*compiled code at (\S+)").expect("the pattern is valid"));

/// Folds text log lines into runs.
#[derive(Debug, Default)]
pub struct TextLogReader {
    runs: Vec<DbtRun>,
    /// The node whose failure text is being read, and whether lines still
    /// belong to it.
    failure: Option<(String, bool)>,
}

impl TextLogReader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn runs(&self) -> &[DbtRun] {
        &self.runs
    }

    pub fn into_runs(self) -> Vec<DbtRun> {
        self.runs
    }

    pub fn feed_line(&mut self, raw: &str) {
        let line = ANSI.replace_all(raw.trim_end(), "");
        if let Some(banner) = BANNER.captures(&line) {
            self.failure = None;
            self.runs
                .push(empty_run(banner[2].to_owned(), banner[1].to_owned()));
            return;
        }
        let Some(run) = self.runs.last_mut() else {
            return;
        };
        let Some(prefixed) = PREFIX.captures(&line) else {
            // A continuation line of a multi-line message.
            if let Some((name, true)) = &self.failure {
                append_message(run, name, line.trim_end());
            }
            return;
        };
        let message = prefixed.get(1).map_or("", |m| m.as_str());
        if let Some(result) = RESULT.captures(message) {
            let word = &result[1];
            let description = &result[2];
            let relation = description.rsplit(' ').next().unwrap_or(description);
            let name = relation.rsplit('.').next().unwrap_or(relation).to_owned();
            let status = match word {
                "START" => NodeStatus::Running,
                "OK" => NodeStatus::Success,
                other => NodeStatus::parse(other),
            };
            let kind = kind_of(description, status);
            let seconds = result.get(4).and_then(|s| s.as_str().parse().ok());
            let rows = result[3]
                .split_whitespace()
                .find_map(|word| word.parse::<u64>().ok())
                .filter(|_| matches!(kind, NodeKind::Seed | NodeKind::Model));
            let node = match run.nodes.iter_mut().position(|n| n.name == name) {
                Some(at) => &mut run.nodes[at],
                None => {
                    run.nodes.push(NodeResult {
                        unique_id: None,
                        name,
                        kind,
                        status,
                        execution_seconds: None,
                        rows_affected: None,
                        failures: None,
                        message: None,
                        compiled_path: None,
                        file: None,
                        owner: None,
                    });
                    run.nodes.last_mut().expect("just pushed")
                }
            };
            node.status = status;
            node.execution_seconds = seconds.or(node.execution_seconds);
            node.rows_affected = rows.or(node.rows_affected);
            if status == NodeStatus::Fail {
                node.failures = result[3]
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok());
            }
        } else if let Some(invocation) = INVOCATION.captures(message) {
            run.invocation = Some(invocation[1].to_owned());
            run.command = invocation[1].split_whitespace().nth(1).map(str::to_owned);
        } else if let Some(done) = DONE.captures(message) {
            self.failure = None;
            run.status = if &done[1] == "0" {
                RunStatus::Success
            } else {
                RunStatus::Failed
            };
        } else if let Some(failure) = FAILURE.captures(message) {
            let name = failure[1].to_owned();
            match &self.failure {
                // "Runtime Error in model x" under "Failure in model x" is
                // the first line of the text, not a new failure.
                Some((current, true)) if *current == name => append_message(run, &name, message),
                // The headline names the node; the text follows.
                _ => self.failure = Some((name, true)),
            }
        } else if let Some(compiled) = COMPILED.captures(message) {
            if let Some((name, _)) = &self.failure
                && let Some(node) = run.nodes.iter_mut().find(|n| &n.name == name)
            {
                node.compiled_path = Some(compiled[1].to_owned());
            }
        } else if message.trim().is_empty() {
            if let Some((_, collecting)) = &mut self.failure {
                *collecting = false;
            }
        } else if let Some((name, true)) = &self.failure {
            append_message(run, name, message);
        }
    }
}

fn empty_run(invocation_id: String, started_at: String) -> DbtRun {
    DbtRun {
        invocation_id: Some(invocation_id),
        started_at: Some(started_at),
        ..DbtRun::new(RunSource::TextLog, RunStatus::Running)
    }
}

fn kind_of(description: &str, status: NodeStatus) -> NodeKind {
    let words: Vec<&str> = description.split_whitespace().collect();
    if words.contains(&"seed") {
        NodeKind::Seed
    } else if words.contains(&"snapshot") {
        NodeKind::Snapshot
    } else if words.contains(&"model") || words.contains(&"relation") {
        NodeKind::Model
    } else if words.contains(&"test") || matches!(status, NodeStatus::Pass | NodeStatus::Fail) {
        NodeKind::Test
    } else {
        NodeKind::Other
    }
}

fn append_message(run: &mut DbtRun, name: &str, text: &str) {
    let Some(node) = run.nodes.iter_mut().find(|n| n.name == name) else {
        return;
    };
    let text = text.strip_prefix("  ").unwrap_or(text);
    match &mut node.message {
        Some(message) => {
            message.push('\n');
            message.push_str(text);
        }
        None => node.message = Some(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = include_str!("../../tests/fixtures/dbt_logs/two_runs.text.log");

    #[test]
    fn two_appended_invocations_read_as_two_runs() {
        let mut reader = TextLogReader::new();
        RECORDED.lines().for_each(|l| reader.feed_line(l));
        let runs = reader.runs();
        assert_eq!(runs.len(), 2);

        let build = &runs[0];
        assert_eq!(build.command.as_deref(), Some("build"));
        assert_eq!(build.status, RunStatus::Failed);
        assert_eq!(
            super::super::tests::summary(build),
            super::super::tests::RECORDED_BUILD
        );
        let broken = &build.nodes[1];
        let message = broken.message.as_deref().unwrap();
        assert!(
            message.contains("Referenced column \"customerr\" not found"),
            "{message}"
        );
        assert!(!message.contains("compiled code"), "{message}");
        assert_eq!(
            broken.compiled_path.as_deref(),
            Some("target/compiled/shop/models/broken_totals.sql")
        );
        assert_eq!(build.nodes[0].rows_affected, Some(3));
        assert_eq!(build.nodes[4].failures, Some(1));
        assert_eq!(
            build.nodes[4].message.as_deref(),
            Some("Got 1 result, configured to fail if != 0")
        );

        let run = &runs[1];
        assert_eq!(run.command.as_deref(), Some("run"));
        assert_eq!(run.status, RunStatus::Success);
        assert_eq!(run.nodes.len(), 1);
    }
}
