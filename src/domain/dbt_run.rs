//! What a slice's dbt runs did: each invocation, and each node in it.
//!
//! Plain data, filled by the `dbt` adapter from dbt's own files (the JSON or
//! text `logs/dbt.log`, `target/run_results.json`) and read by the board,
//! the dbt tab and `status --json`.

use serde::{Deserialize, Serialize};

use super::ownership::Ownership;
use super::slice::SliceName;

/// One dbt invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbtRun {
    pub invocation_id: Option<String>,
    /// `build`, `run`, `test`, `seed`, `snapshot`, …
    pub command: Option<String>,
    /// The command line as typed, e.g. `dbt build -s staging`.
    pub invocation: Option<String>,
    /// The profile target dbt used (its own report of it, else `--target`).
    pub target: Option<String>,
    /// RFC 3339, as dbt wrote it.
    pub started_at: Option<String>,
    pub elapsed_seconds: Option<f64>,
    pub status: RunStatus,
    /// dbt's own message when the run ended in an error of its own (a
    /// compilation error, a locked database, a bad profile), not a node's.
    #[serde(default)]
    pub message: Option<String>,
    /// How many nodes the run selected, when dbt said so.
    #[serde(default)]
    pub selected: Option<usize>,
    /// The dbt process, while the run is in progress (to tell a killed one).
    #[serde(default)]
    pub pid: Option<u32>,
    /// Where the run built its first model, seed or snapshot: the database
    /// and schema dbt really wrote to.
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub schema: Option<String>,
    pub nodes: Vec<NodeResult>,
    /// Which file this was read from.
    pub source: RunSource,
    /// Lines that could not be read (malformed JSON, binary garbage).
    pub unreadable_lines: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started, not finished (or the log ends before it finished).
    Running,
    Success,
    /// Finished with at least one error or failure.
    Failed,
    /// Ended by an error of dbt's own before or outside any node (see
    /// `message`).
    Error,
    /// Stopped with Ctrl-C (SIGINT): some selected nodes never ran.
    Interrupted,
    /// The dbt process is gone without finishing the run (killed).
    Aborted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Interrupted => "interrupted",
            Self::Aborted => "aborted",
        }
    }

    /// Whether the run ended without everything it selected passing.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Error | Self::Interrupted | Self::Aborted
        )
    }
}

/// dbt commands whose run is not a result of the slice's models: they are
/// listed, but never become the slice's last dbt result.
pub const NOT_RESULTS: &[&str] = &[
    "deps", "debug", "parse", "ls", "list", "compile", "clean", "init", "docs", "show",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunSource {
    JsonLog,
    TextLog,
    RunResults,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResult {
    /// `model.shop.stg_orders`; absent in text logs.
    pub unique_id: Option<String>,
    pub name: String,
    pub kind: NodeKind,
    pub status: NodeStatus,
    pub execution_seconds: Option<f64>,
    pub rows_affected: Option<u64>,
    /// Failing rows of a test.
    pub failures: Option<u64>,
    /// The error or failure text.
    pub message: Option<String>,
    /// Relative to the dbt project, e.g. `target/compiled/shop/models/x.sql`.
    pub compiled_path: Option<String>,
    /// The node's own file, relative to the repository root (from dbt's
    /// manifest): `models/staging/stg_orders.sql`, `models/schema.yml`.
    #[serde(default)]
    pub file: Option<String>,
    /// The slice whose `owns` globs match `file`.
    #[serde(default)]
    pub owner: Option<SliceName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Model,
    Test,
    /// A dbt unit test (`unit_tests:`), named by its own name.
    UnitTest,
    Seed,
    Snapshot,
    Other,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Test => "test",
            Self::UnitTest => "unit_test",
            Self::Seed => "seed",
            Self::Snapshot => "snapshot",
            Self::Other => "node",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "model" => Self::Model,
            "test" => Self::Test,
            "unit_test" => Self::UnitTest,
            "seed" => Self::Seed,
            "snapshot" => Self::Snapshot,
            _ => Self::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    // Ordered by how urgently the operator must look: failures first.
    Error,
    Fail,
    Warn,
    Skipped,
    /// Ran with nothing to do (dbt's `no-op`, e.g. a saved query).
    NoOp,
    /// Stopped by Ctrl-C while it ran (dbt's `LogCancelLine`): neither
    /// passed nor failed, whatever dbt logs for it afterwards.
    Cancelled,
    Running,
    Success,
    Pass,
    Other,
}

impl NodeStatus {
    pub fn parse(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "success" | "ok" => Self::Success,
            "error" | "runtime error" => Self::Error,
            "fail" => Self::Fail,
            "warn" => Self::Warn,
            "skipped" | "skip" => Self::Skipped,
            "cancelled" => Self::Cancelled,
            "no-op" | "noop" => Self::NoOp,
            "pass" => Self::Pass,
            "started" | "running" => Self::Running,
            _ => Self::Other,
        }
    }

    pub fn is_problem(self) -> bool {
        matches!(self, Self::Error | Self::Fail)
    }
}

/// How many nodes ended how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCounts {
    /// Models, seeds and snapshots built, and tests passed.
    pub passed: usize,
    /// Errors and test failures.
    pub failed: usize,
    pub warned: usize,
    pub skipped: usize,
    pub running: usize,
    /// Nodes dbt ran that had nothing to do (saved queries without an
    /// export: dbt's `NO-OP`), so the counts add up to its `TOTAL`.
    #[serde(default)]
    pub no_op: usize,
}

impl DbtRun {
    /// A run read from `source` with `status` and nothing else known yet:
    /// no command, times, target or nodes. Callers fill in what their file
    /// says, e.g. `DbtRun { started_at, ..DbtRun::new(source, status) }`.
    pub fn new(source: RunSource, status: RunStatus) -> Self {
        Self {
            invocation_id: None,
            command: None,
            invocation: None,
            target: None,
            started_at: None,
            elapsed_seconds: None,
            status,
            message: None,
            selected: None,
            pid: None,
            database: None,
            schema: None,
            nodes: Vec::new(),
            source,
            unreadable_lines: 0,
        }
    }

    /// One phrase for a person: `build failed (4 passed, 2 failed)`.
    pub fn outcome(&self) -> String {
        let counts = self.counts();
        format!(
            "{} {} ({} passed, {} failed)",
            self.command.as_deref().unwrap_or("dbt"),
            self.status.as_str(),
            counts.passed,
            counts.failed
        )
    }

    /// Whether this run says something about the slice's models (a build,
    /// run, test, seed…), as opposed to `deps`, `parse`, `compile`….
    pub fn is_result(&self) -> bool {
        self.command
            .as_deref()
            .is_none_or(|command| !NOT_RESULTS.contains(&command))
    }

    /// One line for `slice`'s board entry: `dbt 5 ok`, `dbt 2 FAILED`,
    /// `dbt 5 FAILED, 5 of staging-core` (nodes another slice owns failed
    /// or were skipped), `dbt error`,
    /// `dbt interrupted (6 of 27 ran)`, `dbt running (3 done)`.
    pub fn headline(&self, slice: &SliceName) -> String {
        let line = self.outcome_line();
        let elsewhere = self.owned_elsewhere(slice);
        if elsewhere.is_empty() || !self.status.is_bad() {
            return line;
        }
        let total: usize = elsewhere.iter().map(|(_, n)| n).sum();
        let owners: Vec<&str> = elsewhere.iter().map(|(s, _)| s.as_str()).collect();
        format!("{line}, {total} of {}", owners.join(", "))
    }

    fn outcome_line(&self) -> String {
        let c = self.counts();
        let ran = c.passed + c.failed + c.warned;
        let of = |ran: usize| match self.selected {
            Some(total) => format!("{ran} of {total} ran"),
            None => format!("{ran} ran"),
        };
        match self.status {
            RunStatus::Running => format!("dbt running ({ran} done)"),
            RunStatus::Error => "dbt ERROR".to_owned(),
            RunStatus::Interrupted => format!("dbt interrupted ({})", of(ran)),
            RunStatus::Aborted => format!("dbt aborted ({})", of(ran)),
            _ if c.failed > 0 => format!("dbt {} FAILED", c.failed),
            RunStatus::Failed => "dbt FAILED".to_owned(),
            RunStatus::Success => format!("dbt {} ok", c.passed),
        }
    }

    /// Sets each node's owner: the slice whose globs match its file.
    pub fn attribute(&mut self, ownership: &Ownership) {
        for node in &mut self.nodes {
            node.owner = node
                .file
                .as_deref()
                .and_then(|file| ownership.owners(file).first().map(|s| (*s).clone()));
        }
    }

    /// The slices other than `slice` that own nodes which failed or were
    /// skipped, with how many each: failures that are not `slice`'s own
    /// (an upstream slice's models not merged yet, say).
    pub fn owned_elsewhere(&self, slice: &SliceName) -> Vec<(SliceName, usize)> {
        let mut upstream: Vec<(SliceName, usize)> = Vec::new();
        for node in &self.nodes {
            let Some(owner) = node.owner.as_ref().filter(|o| *o != slice) else {
                continue;
            };
            if !(node.status.is_problem() || node.status == NodeStatus::Skipped) {
                continue;
            }
            match upstream.iter_mut().find(|(o, _)| o == owner) {
                Some((_, n)) => *n += 1,
                None => upstream.push((owner.clone(), 1)),
            }
        }
        upstream
    }

    pub fn counts(&self) -> NodeCounts {
        let mut counts = NodeCounts::default();
        for node in &self.nodes {
            match node.status {
                NodeStatus::Success | NodeStatus::Pass => counts.passed += 1,
                NodeStatus::Error | NodeStatus::Fail => counts.failed += 1,
                NodeStatus::Warn => counts.warned += 1,
                NodeStatus::Skipped => counts.skipped += 1,
                NodeStatus::Running => counts.running += 1,
                NodeStatus::NoOp => counts.no_op += 1,
                NodeStatus::Cancelled | NodeStatus::Other => {}
            }
        }
        counts
    }

    /// Nodes that errored or failed, in run order.
    pub fn problems(&self) -> impl Iterator<Item = &NodeResult> {
        self.nodes.iter().filter(|n| n.status.is_problem())
    }

    /// Nodes ordered for the operator: failures first, then by run order.
    pub fn nodes_by_urgency(&self) -> Vec<&NodeResult> {
        let mut nodes: Vec<&NodeResult> = self.nodes.iter().collect();
        nodes.sort_by_key(|n| n.status);
        nodes
    }
}

/// Nodes of another slice that failed or were skipped in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedNodes {
    pub slice: SliceName,
    pub nodes: usize,
}

/// A run as `status --json` reports it: the counts and what failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbtSummary {
    pub command: Option<String>,
    pub invocation: Option<String>,
    pub target: Option<String>,
    pub status: RunStatus,
    /// dbt's own error, for `error` runs.
    pub message: Option<String>,
    /// Nodes the run selected, when dbt said.
    pub selected: Option<usize>,
    /// The database and schema dbt built into.
    pub database: Option<String>,
    pub schema: Option<String>,
    /// Set when the run built somewhere else than the slice's own schema
    /// (made without the slice's environment): says where.
    pub elsewhere: Option<String>,
    pub started_at: Option<String>,
    pub elapsed_seconds: Option<f64>,
    pub counts: NodeCounts,
    /// Errors and test failures, with dbt's message and owner.
    pub failed: Vec<NodeResult>,
    /// Other slices owning nodes that failed or were skipped, and how
    /// many: failures that are not this slice's own.
    pub owned_elsewhere: Vec<OwnedNodes>,
    pub source: RunSource,
    pub unreadable_lines: usize,
}

impl DbtSummary {
    pub fn of(run: &DbtRun) -> Self {
        Self {
            command: run.command.clone(),
            invocation: run.invocation.clone(),
            target: run.target.clone(),
            status: run.status,
            message: run.message.clone(),
            selected: run.selected,
            database: run.database.clone(),
            schema: run.schema.clone(),
            elsewhere: None,
            started_at: run.started_at.clone(),
            elapsed_seconds: run.elapsed_seconds,
            counts: run.counts(),
            failed: run.problems().cloned().collect(),
            owned_elsewhere: Vec::new(),
            source: run.source,
            unreadable_lines: run.unreadable_lines,
        }
    }

    /// One short line for tables: `build: 4 ok, 2 failed, 1 skipped`,
    /// `build: error`, `build: interrupted, 6 ok (6 of 27 ran)`.
    pub fn describe(&self) -> String {
        let c = self.counts;
        let command = self.command.as_deref().unwrap_or("dbt");
        if self.status == RunStatus::Error {
            return format!("{command}: error");
        }
        let mut parts = Vec::new();
        if matches!(self.status, RunStatus::Interrupted | RunStatus::Aborted) {
            parts.push(self.status.as_str().to_owned());
        }
        parts.push(format!("{} ok", c.passed));
        for (n, what) in [
            (c.failed, "failed"),
            (c.warned, "warned"),
            (c.skipped, "skipped"),
            (c.running, "running"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let elsewhere: usize = self.owned_elsewhere.iter().map(|o| o.nodes).sum();
        if elsewhere > 0 {
            let owners: Vec<&str> = self
                .owned_elsewhere
                .iter()
                .map(|o| o.slice.as_str())
                .collect();
            parts.push(format!("{elsewhere} of {}", owners.join(", ")));
        }
        if let (Some(total), RunStatus::Interrupted | RunStatus::Aborted) =
            (self.selected, self.status)
        {
            parts.push(format!("{} of {total} ran", c.passed + c.failed + c.warned));
        }
        format!("{command}: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, file: &str, status: NodeStatus) -> NodeResult {
        NodeResult {
            unique_id: Some(format!("model.shop.{name}")),
            name: name.into(),
            kind: NodeKind::Model,
            status,
            execution_seconds: None,
            rows_affected: None,
            failures: None,
            message: None,
            compiled_path: None,
            file: Some(file.into()),
            owner: None,
        }
    }

    #[test]
    fn failures_in_another_slices_files_are_told_apart() {
        let mut run = DbtRun {
            invocation_id: None,
            command: Some("build".into()),
            invocation: None,
            target: None,
            started_at: None,
            elapsed_seconds: None,
            status: RunStatus::Failed,
            message: None,
            selected: Some(4),
            pid: None,
            database: None,
            schema: None,
            nodes: vec![
                node(
                    "stg_orders",
                    "models/staging/stg_orders.sql",
                    NodeStatus::Error,
                ),
                node("dim_users", "models/marts/dim_users.sql", NodeStatus::Error),
                node(
                    "fct_orders",
                    "models/marts/fct_orders.sql",
                    NodeStatus::Skipped,
                ),
                node(
                    "dim_dates",
                    "models/marts/dim_dates.sql",
                    NodeStatus::Success,
                ),
            ],
            source: RunSource::JsonLog,
            unreadable_lines: 0,
        };
        let staging = SliceName::parse("staging").unwrap();
        let marts = SliceName::parse("marts").unwrap();
        let globs = [
            (staging.clone(), vec!["models/staging/**".to_owned()]),
            (marts.clone(), vec!["models/marts/**".to_owned()]),
        ];
        let ownership = Ownership::new(globs.iter().map(|(n, g)| (n, g.as_slice()))).unwrap();
        run.attribute(&ownership);
        assert_eq!(run.nodes[0].owner.as_ref(), Some(&staging));
        assert_eq!(run.owned_elsewhere(&marts), [(staging.clone(), 1)]);
        assert_eq!(run.owned_elsewhere(&staging), [(marts.clone(), 2)]);
        assert_eq!(run.headline(&staging), "dbt 2 FAILED, 2 of marts");
        assert_eq!(run.headline(&marts), "dbt 2 FAILED, 1 of staging");
    }
}
