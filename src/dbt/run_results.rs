//! `target/run_results.json`, written by dbt when an invocation ends: the
//! authoritative result of the last run in that project.

use serde_json::Value;

use crate::domain::dbt_run::{DbtRun, NodeKind, NodeResult, NodeStatus, RunSource, RunStatus};

/// Why a run_results file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a dbt run_results.json: {0}")]
pub struct RunResultsError(String);

pub fn parse(text: &str) -> Result<DbtRun, RunResultsError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| RunResultsError(e.to_string()))?;
    let results = doc["results"]
        .as_array()
        .ok_or_else(|| RunResultsError("it has no `results` list".into()))?;
    let metadata = &doc["metadata"];
    let args = &doc["args"];
    let nodes: Vec<NodeResult> = results.iter().filter_map(node).collect();
    let failed = nodes.iter().any(|n| n.status.is_problem());
    Ok(DbtRun {
        invocation_id: metadata["invocation_id"].as_str().map(str::to_owned),
        command: args["which"].as_str().map(str::to_owned),
        invocation: args["invocation_command"].as_str().map(str::to_owned),
        target: args["target"]
            .as_str()
            .filter(|t| *t != "None")
            .map(str::to_owned),
        started_at: metadata["invocation_started_at"]
            .as_str()
            .or(metadata["generated_at"].as_str())
            .map(str::to_owned),
        elapsed_seconds: doc["elapsed_time"].as_f64(),
        nodes,
        ..DbtRun::new(
            RunSource::RunResults,
            if failed {
                RunStatus::Failed
            } else {
                RunStatus::Success
            },
        )
    })
}

fn node(result: &Value) -> Option<NodeResult> {
    let unique_id = result["unique_id"].as_str()?;
    // model.<project>.<name>, test.<project>.<name>.<hash>, seed.<project>.<name>,
    // unit_test.<project>.<model>.<name>
    let mut parts = unique_id.split('.');
    let kind = NodeKind::parse(parts.next().unwrap_or_default());
    let name = if kind == NodeKind::UnitTest {
        unique_id.rsplit('.').next()
    } else {
        parts.nth(1)
    }
    .unwrap_or(unique_id)
    .to_owned();
    let status = NodeStatus::parse(result["status"].as_str().unwrap_or_default());
    let message = result["message"]
        .as_str()
        .filter(|m| {
            !m.is_empty()
                && matches!(
                    status,
                    NodeStatus::Error | NodeStatus::Fail | NodeStatus::Warn
                )
        })
        // dbt colors a unit test's diff: no escape reaches a screen.
        .map(super::strip_ansi);
    Some(NodeResult {
        unique_id: Some(unique_id.to_owned()),
        name,
        kind,
        status,
        execution_seconds: result["execution_time"].as_f64(),
        rows_affected: result["adapter_response"]["rows_affected"]
            .as_f64()
            .map(|r| r as u64),
        failures: result["failures"].as_u64().filter(|f| *f > 0),
        message,
        compiled_path: None,
        file: None,
        owner: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_file_gives_every_node() {
        let run = parse(include_str!(
            "../../tests/fixtures/dbt_logs/run_results.json"
        ))
        .unwrap();
        assert_eq!(run.command.as_deref(), Some("build"));
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.nodes.len(), 7);
        let counts = run.counts();
        assert_eq!((counts.passed, counts.failed, counts.skipped), (4, 2, 1));
        let problems: Vec<_> = run.problems().map(|n| (n.kind, n.name.as_str())).collect();
        assert_eq!(
            problems,
            [
                (NodeKind::Model, "broken_totals"),
                (NodeKind::Test, "not_null_stg_orders_customer")
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("\u{0}\u{1}").is_err());
        assert!(parse("{\"results\": 3}").is_err());
        let truncated = &include_str!("../../tests/fixtures/dbt_logs/run_results.json")[..500];
        assert!(parse(truncated).is_err());
    }
}
