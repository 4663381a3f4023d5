//! dbt's log file written as JSON lines (`DBT_LOG_FORMAT_FILE=json`), read
//! incrementally: each line updates the run it belongs to, so a run in
//! progress shows its nodes as they start and finish.
//!
//! Unknown events and fields are ignored (newer dbt versions add them);
//! a line that is not JSON is counted, never fatal.

use std::collections::HashMap;

use serde_json::Value;

use crate::domain::dbt_run::{DbtRun, NodeKind, NodeResult, NodeStatus, RunSource, RunStatus};

/// Folds JSON log lines into runs.
#[derive(Debug, Default)]
pub struct JsonLogReader {
    runs: Vec<DbtRun>,
    /// unique_id → index in the last run's nodes.
    index: HashMap<String, usize>,
    /// Unreadable lines seen before any run started.
    orphan_unreadable: usize,
}

impl JsonLogReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every run seen so far, oldest first.
    pub fn runs(&self) -> &[DbtRun] {
        &self.runs
    }

    pub fn last_run(&self) -> Option<&DbtRun> {
        self.runs.last()
    }

    pub fn into_runs(self) -> Vec<DbtRun> {
        self.runs
    }

    /// Reads one line of the log (without its newline).
    pub fn feed_line(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            self.count_unreadable();
            return;
        };
        let info = &event["info"];
        let name = info["name"].as_str().unwrap_or_default();
        self.follow_invocation(name, info);
        self.apply_event(name, &event["data"]);
    }

    /// A line that is not JSON, counted against the run it falls in.
    fn count_unreadable(&mut self) {
        match self.runs.last_mut() {
            Some(run) => run.unreadable_lines += 1,
            None => self.orphan_unreadable += 1,
        }
    }

    /// Starts a run when the event opens a new invocation, and records the
    /// pid of the dbt process writing it.
    fn follow_invocation(&mut self, name: &str, info: &Value) {
        let invocation = info["invocation_id"].as_str().map(str::to_owned);
        let ts = info["ts"].as_str().map(str::to_owned);
        if name == "MainReportArgs" || self.is_new_invocation(invocation.as_deref()) {
            self.start_run(invocation, ts);
        }
        if let (Some(run), Some(pid)) = (self.runs.last_mut(), info["pid"].as_u64()) {
            run.pid = u32::try_from(pid).ok();
        }
    }

    /// What one event, by its name, changes in the current run or node.
    fn apply_event(&mut self, name: &str, data: &Value) {
        match name {
            // The target dbt really used, and how many nodes it selected.
            "ConcurrencyLine" => self.on_concurrency_line(data),
            "LogStartLine" => {
                if let (Some(run), Some(total)) = (self.runs.last_mut(), data["total"].as_u64()) {
                    run.selected = usize::try_from(total).ok().or(run.selected);
                }
            }
            // dbt's own error: a compilation error, a locked database…
            "MainEncounteredError" => {
                let Some(run) = self.runs.last_mut() else {
                    return;
                };
                let exc = data["exc"].as_str().unwrap_or_default().trim();
                if !exc.is_empty() {
                    run.message = Some(super::strip_ansi(exc));
                }
            }
            "EndOfRunSummary" if data["keyboard_interrupt"].as_bool() == Some(true) => {
                if let Some(run) = self.runs.last_mut() {
                    run.status = RunStatus::Interrupted;
                }
            }
            "MainReportArgs" => self.on_main_report_args(&data["args"]),
            // Ctrl-C stops a node that runs: dbt then logs it as an error
            // (or a pass), but counts it nowhere.
            "LogCancelLine" => {
                let id = data["conn_name"].as_str().unwrap_or_default();
                let at = self.index.get(id).copied();
                if let (Some(at), Some(run)) = (at, self.runs.last_mut())
                    && let Some(node) = run.nodes.get_mut(at)
                {
                    node.status = NodeStatus::Cancelled;
                }
            }
            "NodeStart" => self.on_node_start(&data["node_info"]),
            "NodeFinished" => self.on_node_finished(data),
            "RunResultError" | "RunResultFailure" | "RunResultWarning" => {
                let msg = data["msg"].as_str().map(super::strip_ansi);
                if let (Some(node), Some(msg)) = (self.node(&data["node_info"]), msg) {
                    node.message.get_or_insert(msg);
                }
            }
            "SQLCompiledPath" => {
                let path = data["path"].as_str().map(str::to_owned);
                if let Some(node) = self.node(&data["node_info"]) {
                    node.compiled_path = path;
                }
            }
            "CommandCompleted" => self.on_command_completed(data),
            _ => {}
        }
    }

    fn on_concurrency_line(&mut self, data: &Value) {
        let Some(run) = self.runs.last_mut() else {
            return;
        };
        if let Some(target) = data["target_name"].as_str().filter(|t| !t.is_empty()) {
            run.target = Some(target.to_owned());
        }
        run.selected = data["node_count"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .or(run.selected);
    }

    /// The command line, the command and the target the run was started with.
    fn on_main_report_args(&mut self, args: &Value) {
        let Some(run) = self.runs.last_mut() else {
            return;
        };
        if let Some(command_line) = args["invocation_command"].as_str() {
            run.invocation = Some(command_line.to_owned());
            run.command = command_line.split_whitespace().nth(1).map(str::to_owned);
        }
        run.command = args["which"]
            .as_str()
            .map(str::to_owned)
            .or(run.command.take());
        run.target = args["target"]
            .as_str()
            .filter(|t| *t != "None")
            .map(str::to_owned);
    }

    fn on_node_start(&mut self, info: &Value) {
        if let Some(node) = self.node(info) {
            node.status = NodeStatus::Running;
        }
        // Where dbt really builds: the first model (seeds and snapshots
        // often go to a fixed schema of their own, `raw`, `snapshots`).
        let builds = info["resource_type"].as_str() == Some("model");
        if let Some(run) = self
            .runs
            .last_mut()
            .filter(|r| builds && r.schema.is_none())
        {
            let relation = &info["node_relation"];
            run.database = relation["database"].as_str().map(str::to_owned);
            run.schema = relation["schema"].as_str().map(str::to_owned);
        }
    }

    /// A node's status, timing, rows and failures, and its message when it
    /// did not pass.
    fn on_node_finished(&mut self, data: &Value) {
        let result = &data["run_result"];
        let Some(node) = self.node(&data["node_info"]) else {
            return;
        };
        // Cancelled by Ctrl-C: whatever dbt logs now is not the node's.
        if node.status == NodeStatus::Cancelled {
            return;
        }
        let status = data["node_info"]["node_status"]
            .as_str()
            .or(result["status"].as_str())
            .map_or(NodeStatus::Other, NodeStatus::parse);
        node.status = status;
        node.execution_seconds = result["execution_time"].as_f64();
        node.rows_affected = result["adapter_response"]["rows_affected"]
            .as_f64()
            .map(|rows| rows as u64);
        node.failures = result["num_failures"].as_u64().filter(|n| *n > 0);
        if matches!(
            status,
            NodeStatus::Error | NodeStatus::Fail | NodeStatus::Warn
        ) {
            node.message = result["message"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(super::strip_ansi)
                .or(node.message.take());
        }
    }

    /// The run's end: its time, and whether it succeeded, failed, was
    /// interrupted or ended on dbt's own error.
    fn on_command_completed(&mut self, data: &Value) {
        let Some(run) = self.runs.last_mut() else {
            return;
        };
        run.elapsed_seconds = data["elapsed"].as_f64();
        run.pid = None;
        run.status = match (run.status, data["success"].as_bool()) {
            (RunStatus::Interrupted, _) => RunStatus::Interrupted,
            (_, Some(true)) => RunStatus::Success,
            // Failed with no node failing: dbt's own error.
            _ if run.message.is_some() && !run.nodes.iter().any(|n| n.status.is_problem()) => {
                RunStatus::Error
            }
            _ => RunStatus::Failed,
        };
    }

    fn is_new_invocation(&self, invocation: Option<&str>) -> bool {
        match (self.runs.last(), invocation) {
            (None, _) => true,
            (Some(run), Some(id)) => run.invocation_id.as_deref() != Some(id),
            (Some(_), None) => false,
        }
    }

    fn start_run(&mut self, invocation_id: Option<String>, started_at: Option<String>) {
        if self
            .runs
            .last()
            .is_some_and(|run| run.invocation_id == invocation_id && run.nodes.is_empty())
        {
            return;
        }
        self.index.clear();
        self.runs.push(DbtRun {
            invocation_id,
            started_at,
            unreadable_lines: std::mem::take(&mut self.orphan_unreadable),
            ..DbtRun::new(RunSource::JsonLog, RunStatus::Running)
        });
    }

    /// The node an event's `node_info` describes, created on first sight.
    fn node(&mut self, info: &Value) -> Option<&mut NodeResult> {
        let unique_id = info["unique_id"].as_str()?;
        let run = self.runs.last_mut()?;
        let at = match self.index.get(unique_id) {
            Some(&at) => at,
            None => {
                run.nodes.push(NodeResult {
                    unique_id: Some(unique_id.to_owned()),
                    name: info["node_name"].as_str().unwrap_or(unique_id).to_owned(),
                    kind: NodeKind::parse(info["resource_type"].as_str().unwrap_or_default()),
                    status: NodeStatus::Running,
                    execution_seconds: None,
                    rows_affected: None,
                    failures: None,
                    message: None,
                    compiled_path: None,
                    file: None,
                    owner: None,
                });
                self.index.insert(unique_id.to_owned(), run.nodes.len() - 1);
                run.nodes.len() - 1
            }
        };
        run.nodes.get_mut(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = include_str!("../../tests/fixtures/dbt_logs/build.json.log");

    fn read(text: &str) -> JsonLogReader {
        let mut reader = JsonLogReader::new();
        text.lines().for_each(|line| reader.feed_line(line));
        reader
    }

    #[test]
    fn a_recorded_build_reports_every_node() {
        let reader = read(RECORDED);
        assert_eq!(reader.runs().len(), 1);
        let run = reader.last_run().unwrap();
        assert_eq!(run.command.as_deref(), Some("build"));
        assert_eq!(
            run.invocation.as_deref(),
            Some("dbt build --profiles-dir .")
        );
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.unreadable_lines, 0);
        assert_eq!(
            super::super::tests::summary(run),
            super::super::tests::RECORDED_BUILD
        );
        let broken = &run.nodes[1];
        assert!(
            broken
                .message
                .as_deref()
                .unwrap()
                .contains("Referenced column \"customerr\" not found")
        );
        assert_eq!(
            broken.compiled_path.as_deref(),
            Some("target/compiled/shop/models/broken_totals.sql")
        );
        assert_eq!(run.nodes[0].rows_affected, Some(3));
        assert_eq!(run.nodes[4].failures, Some(1));
        let counts = run.counts();
        assert_eq!((counts.passed, counts.failed, counts.skipped), (4, 2, 1));
    }

    #[test]
    fn nodes_cancelled_by_ctrl_c_count_as_dbt_counts_them_and_fail_nobody() {
        // dbt 1.11 interrupted with two models running: it logs them as
        // cancelled, then as errors; its own summary counts 1 of 1 passed.
        let reader = read(include_str!(
            "../../tests/fixtures/dbt_logs/interrupted.json.log"
        ));
        let run = reader.last_run().unwrap();
        assert_eq!(run.status, RunStatus::Interrupted);
        let counts = run.counts();
        assert_eq!((counts.passed, counts.failed), (1, 0), "{counts:?}");
        assert_eq!(run.problems().count(), 0);
        let cancelled: Vec<&str> = run
            .nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Cancelled)
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(cancelled, ["slow_1", "slow_3"]);
    }

    #[test]
    fn no_op_nodes_are_counted_so_the_counts_add_up_to_dbts_total() {
        let finished = |id: &str, status: &str| {
            format!(
                "{{\"info\": {{\"name\": \"NodeFinished\"}}, \"data\": {{\"node_info\": {{\"unique_id\": \"{id}\", \"node_name\": \"x\", \"resource_type\": \"saved_query\", \"node_status\": \"{status}\"}}, \"run_result\": {{\"status\": \"{status}\"}}}}}}"
            )
        };
        let mut lines = vec![RECORDED.lines().next().unwrap().to_owned()];
        lines.push(finished("saved_query.shop.orders", "no-op"));
        lines.push(finished("model.shop.a", "success"));
        let reader = read(&lines.join("\n"));
        let counts = reader.last_run().unwrap().counts();
        assert_eq!((counts.passed, counts.no_op), (1, 1), "{counts:?}");
    }

    #[test]
    fn a_run_in_progress_shows_running_nodes() {
        // Cut the recording right after the stg_orders model started.
        let cut = RECORDED
            .lines()
            .position(|l| l.contains("\"NodeStart\"") && l.contains("model.shop.stg_orders"))
            .unwrap();
        let partial: Vec<&str> = RECORDED.lines().take(cut + 1).collect();
        let reader = read(&partial.join("\n"));
        let run = reader.last_run().unwrap();
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(run.nodes.last().unwrap().status, NodeStatus::Running);
        assert_eq!(run.counts().running, 1);
    }

    #[test]
    fn garbage_truncated_lines_and_new_fields_are_survived() {
        let mut text = String::from("\u{0}\u{7f}binary\n{\"data\": {\"args\"\n");
        text.push_str(RECORDED);
        text.push_str(
            "{\"info\": {\"name\": \"NodeStart\", \"invocation_id\": \"next\", \"new_field\": [1]}, \"data\": {\"node_info\": {\"unique_id\": \"model.x.y\", \"node_name\": \"y\", \"resource_type\": \"model\", \"shiny\": true}}}\n",
        );
        text.push_str("{\"info\": {\"name\": \"NodeFinish"); // truncated last line
        let reader = read(&text);
        assert_eq!(reader.runs().len(), 2);
        assert_eq!(reader.runs()[0].unreadable_lines, 2);
        assert_eq!(reader.runs()[0].nodes.len(), 7);
        let next = reader.last_run().unwrap();
        assert_eq!(next.invocation_id.as_deref(), Some("next"));
        assert_eq!(next.nodes[0].name, "y");
        assert_eq!(next.unreadable_lines, 1);
    }
}
